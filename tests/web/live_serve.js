/*
 * `xensim serve --http` in headless Chromium: the domains appear; a node
 * written with Xen's own xenstore-write shows in the page's tree; a
 * malformed request gets a 400 and the page goes on showing changes.
 * Usage: node live_serve.js URL ARTIFACT_DIR XENSTORE_SOCKET
 */
'use strict';
const net = require('net');
const { execFileSync } = require('child_process');
const t = require('./lib.js');

function xsWrite(sock, key, value) {
  execFileSync('xenstore-write', [key, value], { env: { ...process.env, XENSTORED_PATH: sock } });
}

/* Raw bytes that are no HTTP request; resolves with the status line. */
function malformed(url) {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const s = net.connect(Number(u.port), u.hostname, () => s.write('\x16\x03\x01 this is not HTTP\r\n\r\n'));
    let got = '';
    s.on('data', (d) => { got += d; });
    s.on('end', () => resolve(got.split('\r\n')[0]));
    s.on('error', reject);
    s.setTimeout(t.WAIT_MS, () => { s.destroy(); reject(new Error('no answer to a malformed request')); });
  });
}

async function main() {
  const [url, out, sock] = process.argv.slice(2);
  const { browser, page } = await t.launch();
  try {
    await page.goto(url);
    await page.waitForSelector('.domain[data-domid="1"]');
    t.expect((await page.textContent('.domain[data-domid="1"] .name')).includes('guest1'), 'dom0 and guest1 appear');
    await page.waitForSelector('.evdom[data-domid="1"] .cell.st-interdomain');
    t.expect(true, "guest1's store port shows in its bitmap");
    xsWrite(sock, '/local/domain/0/web-test', 'written-by-the-test');
    await page.waitForFunction(() => document.getElementById('xenstore').textContent.includes('written-by-the-test'));
    t.expect(true, 'a node written with xenstore-write shows in the tree');

    const status = await malformed(url);
    t.expect(/^HTTP\/1\.[01] 4\d\d/.test(status), 'a malformed request gets a 4xx: ' + status);
    xsWrite(sock, '/local/domain/0/web-test-2', 'after-the-bad-request');
    await page.waitForFunction(() => document.getElementById('xenstore').textContent.includes('after-the-bad-request'));
    t.expect(true, 'the simulation and the live page go on after it');
    await t.shot(page, out, 'serve-live.png');
  } finally {
    await browser.close();
  }
}

main().catch((e) => { console.error('not ok - ' + e.message); process.exit(1); });
