// The build target pages in a real browser: Debian's Chromium, driven by
// playwright-core.  Run by tests/integration/web_ui.sh, which starts
// `drydock serve`, makes a client's target with a host and a uri
// artifact, and passes, in the environment:
//
//   DRYDOCK_URL           http://127.0.0.1:PORT
//   DRYDOCK_CLIENT_TOKEN  the secret of the client token owning the target
//   DRYDOCK_TARGET        the id of its target, building
//   DRYDOCK_TARGET_LEASE  the id of the active lease its host artifact names
//   DRYDOCK_TARGET_FILE   the id of its file artifact, and
//   DRYDOCK_TARGET_FILE_SHA256  the SHA-256 of its bytes
//   DRYDOCK_TEST_OUT      where screenshots go (under browser/)
//
// The client opens the Targets page, then its target, sees the artifacts
// with the right links, downloads the file (its bytes checked), clicks Abort, confirms, and waits (the pages
// reload themselves, no sleeps) until the target shows aborted and its
// lease destroyed.  At 375 px wide the pages do not scroll sideways, and
// no page logs a console error (where a CSP violation would show).
import { chromium } from 'playwright-core';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

function need(name) {
	const v = process.env[name];
	if (!v) throw new Error(`${name} is not set (run tests/integration/web_ui.sh)`);
	return v;
}

function check(ok, what) {
	if (!ok) throw new Error(`FAIL: ${what}`);
	console.log(`ok: ${what}`);
}

const url = need('DRYDOCK_URL');
const clientToken = need('DRYDOCK_CLIENT_TOKEN');
const target = need('DRYDOCK_TARGET');
const lease = need('DRYDOCK_TARGET_LEASE');
const file = need('DRYDOCK_TARGET_FILE');
const fileSha = need('DRYDOCK_TARGET_FILE_SHA256');
const out = path.join(process.env.DRYDOCK_TEST_OUT || '.', 'browser');
mkdirSync(out, { recursive: true });
const shot = (name) => path.join(out, name);
const targetUrl = `${url}/targets/${target}`;
const errors = [];

const browser = await chromium.launch({
	executablePath: '/usr/bin/chromium',
	args: ['--no-sandbox'],
});
try {
	const context = await browser.newContext({ viewport: { width: 1200, height: 900 } });
	const page = await context.newPage();
	page.setDefaultTimeout(30000);
	page.on('console', (m) => {
		if (m.type() === 'error') errors.push(`${page.url()}: ${m.text()}`);
	});
	page.on('pageerror', (e) => errors.push(`${page.url()}: ${e}`));

	await page.goto(`${url}/login`);
	await page.fill('#token', clientToken);
	await Promise.all([page.waitForURL(`${url}/`), page.click('button[type=submit]')]);
	check((await page.locator('#who').textContent()).includes('client'), 'signed in as the client');

	// the Targets page, from the nav
	await Promise.all([page.waitForURL(`${url}/targets`), page.click('header nav a[href="/targets"]')]);
	check((await page.locator('h1').textContent()) === 'Targets', 'the Targets page');
	const row = page.locator(`#building a[href="/targets/${target}"]`);
	check((await row.count()) === 1, 'the target is listed under Building');
	check((await page.locator('#building').textContent()).includes('<i>nightly</i> & co'),
		'its name shows as text, not markup');
	await page.screenshot({ path: shot('targets.png'), fullPage: true });

	// the target, with its artifacts
	await Promise.all([page.waitForURL(targetUrl), row.click()]);
	check((await page.locator('#status').textContent()) === 'building', 'the target is building');
	check((await page.locator('#name').textContent()) === '<i>nightly</i> & co', 'its name, as text');
	const host = page.locator(`#artifacts a[href="/leases/${lease}"]`);
	check((await host.count()) === 1, 'the host artifact links to its lease');
	const uri = page.locator('#artifacts a[rel="noopener noreferrer"]');
	check((await uri.count()) === 1, 'one uri artifact is a link');
	check((await uri.getAttribute('href')) === 'https://example.org/r?a=1&b="x"', 'the link goes to its URI');
	check((await uri.textContent()) === '<em>report</em>', 'the link shows its name as text');
	check((await page.locator('#artifacts .s-external').count()) === 1, 'it is marked external');
	check((await page.locator('#artifacts a[href^="javascript"]').count()) === 0,
		'a javascript: URI is no link');
	check((await page.locator('#artifacts').textContent()).includes('javascript:alert(1)'),
		'it shows as text');
	const link = page.locator(`#artifacts a[href="/artifacts/${file}/content"]`);
	check((await link.textContent()) === '<b>out".bin', 'the file artifact is a link with its name as text');
	check((await page.locator(`#artifact-${file} .sha256`).textContent()) === fileSha, 'it shows its SHA-256');
	const [download] = await Promise.all([page.waitForEvent('download'), link.click()]);
	check(download.suggestedFilename() === '<b>out".bin' || download.suggestedFilename().endsWith('.bin'),
		`the download is named after the file (${download.suggestedFilename()})`);
	const got = createHash('sha256').update(readFileSync(await download.path())).digest('hex');
	check(got === fileSha, 'the downloaded bytes are the file\'s');
	check((await page.locator('#log').textContent()).includes('artifact.added'), 'the log shows the artifacts added');
	check((await page.locator('script').count()) === 0, 'the page has no script element');
	await page.screenshot({ path: shot('target-building.png'), fullPage: true });

	// Abort, through the confirmation page
	await Promise.all([page.waitForURL(`${targetUrl}/finish?result=aborted`), page.click('#abort')]);
	check((await page.locator('h1').textContent()) === `Abort target ${target}?`, 'the confirmation page asks');
	check(await page.locator('#cancel').isVisible(), 'it offers Cancel');
	await page.screenshot({ path: shot('target-confirm.png'), fullPage: true });
	await Promise.all([page.waitForURL(targetUrl), page.click('#confirm')]);
	check(true, 'confirming went back to the target page');

	// No sleeps: the page reloads itself while the finish and the
	// lease's release run.
	await page.locator('#status', { hasText: 'aborted' }).waitFor({ timeout: 30000 });
	check(true, 'the target reached aborted');
	check((await page.locator('#abort').count()) === 0, 'no Abort on an aborted target');
	await page.locator(`#artifacts .s-destroyed`).waitFor({ timeout: 30000 });
	check(true, 'its lease shows destroyed on the target page');
	check((await page.locator('#log').textContent()).includes('target.finished'), 'the log shows target.finished');
	await page.screenshot({ path: shot('target-aborted.png'), fullPage: true });
	await page.goto(`${url}/leases/${lease}`);
	check((await page.locator('#status').textContent()) === 'destroyed', 'the lease page says destroyed');

	// Nothing scrolls sideways at a phone's width.
	await page.setViewportSize({ width: 375, height: 800 });
	for (const p of ['/targets', `/targets/${target}`]) {
		await page.goto(url + p);
		const width = await page.evaluate(() => document.documentElement.scrollWidth);
		check(width <= 377, `${p} fits 375 px (scrollWidth ${width})`);
	}
	await page.screenshot({ path: shot('narrow-target.png'), fullPage: true });

	check(errors.length === 0, `no console errors${errors.length ? ': ' + errors.join('; ') : ''}`);
} finally {
	await browser.close();
}
console.log(`screenshots in ${out}`);
