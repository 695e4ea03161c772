// What the browser tests share: reading their environment, one checked
// step, Chromium, a page that records console errors, signing in, and
// where screenshots go.  (release.mjs and authorizations.mjs use it.)
import { chromium } from 'playwright-core';
import { mkdirSync } from 'node:fs';
import path from 'node:path';

// need(NAME, SCRIPT): the environment variable NAME, which SCRIPT sets
export function need(name, script) {
	const v = process.env[name];
	if (!v) throw new Error(`${name} is not set (run tests/integration/${script})`);
	return v;
}

export function check(ok, what) {
	if (!ok) throw new Error(`FAIL: ${what}`);
	console.log(`ok: ${what}`);
}

// Where screenshots go: $DRYDOCK_TEST_OUT/browser, made if need be
export function shotDir() {
	const out = path.join(process.env.DRYDOCK_TEST_OUT || '.', 'browser');
	mkdirSync(out, { recursive: true });
	return out;
}

// shot(NAME): the path of screenshot NAME there
export function shot(name) {
	return path.join(shotDir(), name);
}

export function launch() {
	return chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox'] });
}

// A page WIDTH px wide whose console errors (a CSP violation shows
// there) and uncaught exceptions go to the array `errors`.
export async function newPage(browser, width, errors) {
	const context = await browser.newContext({ viewport: { width, height: 900 } });
	const page = await context.newPage();
	page.setDefaultTimeout(30000);
	page.on('console', (m) => {
		if (m.type() === 'error') errors.push(`${page.url()}: ${m.text()}`);
	});
	page.on('pageerror', (e) => errors.push(`${page.url()}: ${e}`));
	return page;
}

// Sign in at URL with TOKEN; the overview follows.
export async function signIn(page, url, token) {
	await page.goto(`${url}/login`);
	await page.fill('#token', token);
	await Promise.all([page.waitForURL(`${url}/`), page.click('button[type=submit]')]);
}
