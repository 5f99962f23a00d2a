/*
 * The player on a recording of `xensim demo --evtchn 2l-64`: 64-bit
 * words give every domain 4,096 ports, drawn as a grid of 64 words of
 * 64 bits with a 64-bit selector per vCPU; at the step where Xen sets the
 * selector bit, the port the send raised is pending in its cell, and the
 * cell names its word and bit as 64-bit words count them. Usage: node
 * wide.js URL ARTIFACT_DIR
 */
'use strict';
const t = require('./lib.js');

async function main() {
  const [url, out] = process.argv.slice(2);
  const { browser, page } = await t.launch();
  try {
    await page.goto(url + '?autoplay=0');
    await page.waitForFunction(() => window.xensimView.view.startedChapter &&
      document.body.dataset.step === String(window.xensimView.view.chapterStep));
    const dom0 = '.evdom[data-domid="0"]';
    await page.waitForSelector(dom0 + '[data-abi="2l"]');
    const title = await page.textContent(dom0 + ' h3');
    t.expect(title.includes('4096 ports (64 words of 64 bits)'), "dom0's title counts 64-bit words: " + title);
    t.expect(await page.$$eval(dom0 + ' .grid .cell', (c) => c.length) === 4096, 'the grid has 4096 cells');
    t.expect(await page.$eval(dom0 + ' .grid', (g) => g.classList.contains('wide') &&
      g.style.gridTemplateColumns === 'repeat(64, auto)'), 'the grid is 64 cells wide');
    /* Borderless cells: the grid's own colour between them draws the
     * lines, or 4,096 white cells on white would show nothing. */
    t.expect(await page.$eval(dom0 + ' .grid', (g) => {
      const lines = getComputedStyle(g).backgroundColor;
      const free = getComputedStyle(g.querySelector('.cell[data-port="4000"]')).backgroundColor;
      return lines !== 'rgba(0, 0, 0, 0)' && lines !== 'transparent' && lines !== free;
    }),
      'free cells stand out from the lines between them');
    t.expect(await page.$$eval(dom0 + ' .vcpu[data-vcpu="0"] .bits span', (s) => s.length) === 64,
      "vcpu0's evtchn_pending_sel has 64 bits");

    const send = await t.forwardTo(page, 'EVTCHNOP_send(dom1');
    const port = Number(/dom0 port (\d+)/.exec(send)[1]);
    if (!send.includes('already pending'))
      await t.forwardTo(page, 'selector bit set');
    const cell = `${dom0} .cell[data-port="${port}"]`;
    t.expect(await page.$eval(cell, (c) => c.classList.contains('pending')), `dom0 port ${port} is pending at its step`);
    const tip = await page.$eval(cell, (c) => c.title);
    t.expect(tip.includes(`word ${Math.floor(port / 64)} bit ${port % 64}, pending`),
      `its cell names word and bit of 64: ${tip}`);
    t.expect(await page.$eval(`${dom0} .vcpu[data-vcpu="0"] .bits span:nth-child(${Math.floor(port / 64) + 1})`,
      (e) => e.classList.contains('on')), `selector bit ${Math.floor(port / 64)} is set`);
    await t.shot(page, out, 'player-2l-64.png');
  } finally {
    await browser.close();
  }
}

main().catch((e) => { console.error('not ok - ' + e.message); process.exit(1); });
