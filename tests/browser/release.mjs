// The web UI in a real browser: Debian's Chromium, driven by
// playwright-core.  Run by tests/integration/web_ui.sh, which starts
// `drydock serve` and passes, in the environment:
//
//   DRYDOCK_URL           http://127.0.0.1:PORT
//   DRYDOCK_ADMIN_TOKEN   an admin token's secret
//   DRYDOCK_VIEWER_TOKEN  a viewer token's secret
//   DRYDOCK_LEASE         the id of an active lease
//   DRYDOCK_TEST_OUT      where screenshots go (under browser/)
//   DRYDOCK_RELEASING_FILE  optional: the server's workers are held, so
//                         a release stays queued until this test has seen
//                         the "Releasing" badge and the page reload
//                         itself; it then creates this file, and the
//                         caller lets the workers go on
//
// A viewer sees the Release button disabled; an admin signs in, opens the
// lease, clicks Release, confirms, and waits (the page reloads itself)
// until the lease shows destroyed, with the button disabled.  At 375 px
// wide no page scrolls sideways.  No page may log a console error, which
// is where a Content-Security-Policy violation would show.
import { writeFileSync } from 'node:fs';
import { check, launch, need, newPage, shot, shotDir, signIn as signInAt } from './lib.mjs';

const script = 'web_ui.sh';
const url = need('DRYDOCK_URL', script);
const adminToken = need('DRYDOCK_ADMIN_TOKEN', script);
const viewerToken = need('DRYDOCK_VIEWER_TOKEN', script);
const lease = need('DRYDOCK_LEASE', script);
const leaseUrl = `${url}/leases/${lease}`;
const errors = [];

async function signIn(page, token) {
	await signInAt(page, url, token);
	check((await page.locator('h1').textContent()) === 'Overview', 'signed in, on the overview');
}

const browser = await launch();
try {
	// A viewer may look but not release.
	const viewer = await newPage(browser, 1200, errors);
	await signIn(viewer, viewerToken);
	check((await viewer.locator('#who').textContent()).includes('viewer'), 'nav shows the viewer role');
	await viewer.goto(leaseUrl);
	check((await viewer.locator('#status').textContent()) === 'active', 'viewer sees the lease active');
	check(await viewer.locator('#release').isDisabled(), 'Release is disabled for a viewer');
	const why = await viewer.locator('#release').getAttribute('title');
	check(/viewer/.test(why || ''), `the disabled button says why: "${why}"`);
	await viewer.screenshot({ path: shot('viewer.png'), fullPage: true });
	await viewer.context().close();

	// An admin releases it.
	const page = await newPage(browser, 1200, errors);
	await signIn(page, adminToken);
	await page.goto(leaseUrl);
	check((await page.locator('#status').textContent()) === 'active', 'admin sees the lease active');
	check(await page.locator('#release').isEnabled(), 'Release is enabled for an admin');
	check((await page.locator('#attributes').textContent()).includes('<script>'),
		'the attribute shows as text, not markup');
	check((await page.locator('script').count()) === 0, 'the page has no script element');
	await page.screenshot({ path: shot('lease-active.png'), fullPage: true });

	await Promise.all([page.waitForURL(`${leaseUrl}/release`), page.click('#release')]);
	check((await page.locator('h1').textContent()) === `Release lease ${lease}?`, 'the confirmation page asks');
	check(await page.locator('#cancel').isVisible(), 'it offers Cancel');
	await page.screenshot({ path: shot('confirm.png'), fullPage: true });

	await Promise.all([page.waitForURL(leaseUrl), page.click('#confirm')]);
	check(true, 'confirming went back to the lease page');
	const held = process.env.DRYDOCK_RELEASING_FILE;
	if (held) {
		check(await page.locator('#releasing').isVisible(), 'the lease shows Releasing');
		check((await page.locator('#status').textContent()) === 'active', 'it is still active');
		check(await page.locator('#release').isDisabled(), 'Release is disabled while releasing');
		const why = await page.locator('#release').getAttribute('title');
		check(why === 'a release is already queued', `the disabled button says why: "${why}"`);
		check((await page.locator('meta[http-equiv=refresh]').getAttribute('content')) === '2',
			'the page asks to be reloaded in 2 s');
		await page.screenshot({ path: shot('releasing.png'), fullPage: true });
		await page.waitForEvent('domcontentloaded', { timeout: 10000 });
		check(await page.locator('#releasing').isVisible(), 'the page reloaded itself, still Releasing');
		writeFileSync(held, 'seen\n');
	}
	// No sleeps: the page reloads itself while the release runs.
	await page.locator('#status', { hasText: 'destroyed' }).waitFor({ timeout: 30000 });
	check(true, 'the lease reached destroyed');
	check(await page.locator('#release').isDisabled(), 'Release is disabled on a destroyed lease');
	check((await page.locator('#releasing').count()) === 0, 'no Releasing badge once destroyed');
	const commands = await page.locator('#commands').textContent();
	check(/release/.test(commands) && /done/.test(commands), 'the command queue shows the release done');
	check((await page.locator('#log').textContent()).includes('lease.destroyed'), 'the log shows lease.destroyed');
	await page.screenshot({ path: shot('destroyed.png'), fullPage: true });

	// Nothing scrolls sideways at a phone's width.
	await page.setViewportSize({ width: 375, height: 800 });
	for (const p of [`/leases/${lease}`, '/', '/leases', '/resources', '/resources/1',
		'/blueprints', '/blueprints/1', '/tasks']) {
		await page.goto(url + p);
		const width = await page.evaluate(() => document.documentElement.scrollWidth);
		check(width <= 377, `${p} fits 375 px (scrollWidth ${width})`);
	}
	await page.goto(leaseUrl);
	await page.screenshot({ path: shot('narrow.png'), fullPage: true });
	await page.goto(`${url}/leases`);
	await page.screenshot({ path: shot('narrow-leases.png'), fullPage: true });

	check(errors.length === 0, `no console errors${errors.length ? ': ' + errors.join('; ') : ''}`);
} finally {
	await browser.close();
}
console.log(`screenshots in ${shotDir()}`);
