// Blueprint authorizations in the web UI, in a real browser (Debian's
// Chromium, driven by playwright-core).  Run by
// tests/integration/authorizations.sh, which starts `drydock serve` and
// passes, in the environment:
//
//   DRYDOCK_URL            http://127.0.0.1:PORT
//   DRYDOCK_ADMIN_TOKEN    an admin token's secret
//   DRYDOCK_VIEWER_TOKEN   a viewer token's secret
//   DRYDOCK_BLUEPRINT      a blueprint that requires authorization
//   DRYDOCK_AUTHORIZATION  one of its authorizations, declined
//   DRYDOCK_TEST_OUT       where screenshots go (under browser/)
//
// A viewer sees the authorization and no button.  An admin opens the
// blueprint, follows its link to the authorizations page, approves
// there (and lands back on it, approved, Approve now disabled), then
// declines from the blueprint's page (and lands back there).  At 375 px
// neither page scrolls sideways; no page logs a console error.
import { chromium } from 'playwright-core';
import { mkdirSync } from 'node:fs';
import path from 'node:path';

function need(name) {
	const v = process.env[name];
	if (!v) throw new Error(`${name} is not set (run tests/integration/authorizations.sh)`);
	return v;
}

function check(ok, what) {
	if (!ok) throw new Error(`FAIL: ${what}`);
	console.log(`ok: ${what}`);
}

const url = need('DRYDOCK_URL');
const adminToken = need('DRYDOCK_ADMIN_TOKEN');
const viewerToken = need('DRYDOCK_VIEWER_TOKEN');
const bp = need('DRYDOCK_BLUEPRINT');
const auth = need('DRYDOCK_AUTHORIZATION');
const out = path.join(process.env.DRYDOCK_TEST_OUT || '.', 'browser');
mkdirSync(out, { recursive: true });
const shot = (name) => path.join(out, name);
const errors = [];

async function newPage(browser, width) {
	const context = await browser.newContext({ viewport: { width, height: 900 } });
	const page = await context.newPage();
	page.setDefaultTimeout(30000);
	page.on('console', (m) => {
		if (m.type() === 'error') errors.push(`${page.url()}: ${m.text()}`);
	});
	page.on('pageerror', (e) => errors.push(`${page.url()}: ${e}`));
	return page;
}

async function signIn(page, token) {
	await page.goto(`${url}/login`);
	await page.fill('#token', token);
	await Promise.all([page.waitForURL(`${url}/`), page.click('button[type=submit]')]);
}

const state = (page) => page.locator(`#state-${auth}`).textContent();

const browser = await chromium.launch({
	executablePath: '/usr/bin/chromium',
	args: ['--no-sandbox'],
});
try {
	const viewer = await newPage(browser, 1200);
	await signIn(viewer, viewerToken);
	await viewer.goto(`${url}/authorizations`);
	check((await state(viewer)) === 'declined', 'a viewer sees the authorization declined');
	check((await viewer.locator(`#approve-${auth}`).count()) === 0, 'and no Approve button');
	await viewer.context().close();

	const page = await newPage(browser, 1200);
	await signIn(page, adminToken);
	await page.goto(`${url}/blueprints/${bp}`);
	check((await page.locator('#authorization-required').textContent()).startsWith('Required'),
		'the blueprint page says authorization is required');
	await Promise.all([page.waitForURL(`${url}/authorizations?blueprint=${bp}`),
		page.click('#authorizations-link')]);
	check((await state(page)) === 'declined', 'its authorizations page shows it declined');
	check(await page.locator(`#decline-${auth}`).isDisabled(), 'Decline is disabled for a declined one');
	await page.screenshot({ path: shot('authorizations.png'), fullPage: true });
	await Promise.all([page.waitForURL(`${url}/authorizations?blueprint=${bp}`),
		page.click(`#approve-${auth}`)]);
	check((await state(page)) === 'approved', 'Approve approves it');
	check(await page.locator(`#approve-${auth}`).isDisabled(), 'Approve is then disabled');

	await page.goto(`${url}/blueprints/${bp}`);
	await Promise.all([page.waitForURL(`${url}/blueprints/${bp}`), page.click(`#decline-${auth}`)]);
	check((await state(page)) === 'declined', 'Decline on the blueprint page declines it, back there');
	await page.screenshot({ path: shot('authorizations-blueprint.png'), fullPage: true });
	await page.context().close();

	const narrow = await newPage(browser, 375);
	await signIn(narrow, adminToken);
	for (const p of ['/authorizations', `/blueprints/${bp}`]) {
		await narrow.goto(url + p);
		const width = await narrow.evaluate(() => document.documentElement.scrollWidth);
		check(width <= 377, `${p} fits 375 px (scrollWidth ${width})`);
	}
	await narrow.goto(`${url}/authorizations`);
	await narrow.screenshot({ path: shot('narrow-authorizations.png'), fullPage: true });

	check(errors.length === 0, `no console errors${errors.length ? ': ' + errors.join('; ') : ''}`);
} finally {
	await browser.close();
}
