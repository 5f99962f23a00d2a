/*
 * Shared by the web view's browser tests: Debian's Chromium, headless,
 * driven by playwright-core (installed into the build tree at test time;
 * it downloads no browser), and waits on conditions, never on time.
 */
'use strict';
const fs = require('fs');
const path = require('path');
const { chromium } = require('playwright-core');

/* Generous: a sanitizer build on a loaded machine is slow; a wait ends
 * as soon as its condition holds. */
const WAIT_MS = 60000;

async function launch() {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  const page = await browser.newPage({ viewport: { width: 1400, height: 1500 } });
  page.setDefaultTimeout(WAIT_MS);
  page.on('pageerror', (e) => { console.error('page error:', e.message); process.exitCode = 1; });
  return { browser, page };
}

function fail(msg) {
  throw new Error(msg);
}

async function narration(page) {
  return (await page.textContent('#narration-text')).trim();
}

async function stepNo(page) {
  return Number(await page.evaluate(() => document.body.dataset.step));
}

/* Clicks a control and waits for the page to draw the step it leads to. */
async function click(page, id, expectStep) {
  await page.click('#' + id);
  if (expectStep !== undefined)
    await page.waitForFunction((s) => document.body.dataset.step === String(s), expectStep);
}

/* Steps forward until the narration contains text; fails if it never does. */
async function forwardTo(page, text) {
  for (let i = 0; i < 400; i++) {
    const now = await narration(page);
    if (now.includes(text)) return now;
    const s = await stepNo(page);
    const n = await page.evaluate(() => window.xensimView.model.steps.length);
    if (s >= n - 1) fail(`no step says "${text}" (last: "${now}")`);
    await click(page, 'forward', s + 1);
  }
  fail(`gave up looking for "${text}"`);
}

async function ringText(page, prefix) {
  const sel = `.ring[data-ring^="${prefix}"] .idx`;
  await page.waitForSelector(sel);
  return (await page.textContent(sel)).trim();
}

function expect(cond, msg) {
  if (!cond) fail(msg);
  console.log('ok - ' + msg);
}

async function shot(page, dir, name) {
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, name);
  await page.screenshot({ path: file, fullPage: true });
  console.log('screenshot: ' + file);
}

module.exports = { launch, narration, stepNo, click, forwardTo, ringText, expect, shot, fail, WAIT_MS };
