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
import { check, launch, need, newPage, shot, signIn } from './lib.mjs';

const script = 'authorizations.sh';
const url = need('DRYDOCK_URL', script);
const adminToken = need('DRYDOCK_ADMIN_TOKEN', script);
const viewerToken = need('DRYDOCK_VIEWER_TOKEN', script);
const bp = need('DRYDOCK_BLUEPRINT', script);
const auth = need('DRYDOCK_AUTHORIZATION', script);
const errors = [];

const state = (page) => page.locator(`#state-${auth}`).textContent();

const browser = await launch();
try {
	const viewer = await newPage(browser, 1200, errors);
	await signIn(viewer, url, viewerToken);
	await viewer.goto(`${url}/authorizations`);
	check((await state(viewer)) === 'declined', 'a viewer sees the authorization declined');
	check((await viewer.locator(`#approve-${auth}`).count()) === 0, 'and no Approve button');
	await viewer.context().close();

	const page = await newPage(browser, 1200, errors);
	await signIn(page, url, adminToken);
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

	const narrow = await newPage(browser, 375, errors);
	await signIn(narrow, url, adminToken);
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
