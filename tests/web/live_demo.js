/*
 * `xensim demo --http` in headless Chromium: the page connects, the demo
 * runs, and the page shows the domains appear, then, step by step through
 * the READ, the block ring's req_prod and rsp_prod move and dom0's port
 * goes pending and is acked. Usage: node live_demo.js URL ARTIFACT_DIR
 */
'use strict';
const t = require('./lib.js');

async function main() {
  const [url, out] = process.argv.slice(2);
  const { browser, page } = await t.launch();
  try {
    await page.goto(url + '?autoplay=0');
    await page.waitForFunction(() => document.getElementById('mode').textContent.startsWith('live'));
    t.expect(true, 'the page says it is live');
    await page.waitForSelector('.domain[data-domid="1"]');
    t.expect((await page.textContent('.domain[data-domid="0"] .name')).includes('Domain-0') &&
      (await page.textContent('.domain[data-domid="1"] .name')).includes('guest'),
      'dom0 and the guest appear as the demo builds them');
    /* The demo marks where the READ starts; the page opens there. */
    await page.waitForFunction(() => window.xensimView.view.startedChapter &&
      document.body.dataset.step === String(window.xensimView.view.chapterStep));
    t.expect((await t.narration(page)).includes('reads sector 0'),
      'the page opens on the first step of the READ walkthrough');
    t.expect((await page.textContent('#chapter')).includes("seed's walkthrough"), 'the chapter is named');

    let ring = await t.ringText(page, 'vbd/');
    t.expect(/req_prod 0\b/.test(ring) && /rsp_prod 0\b/.test(ring), 'the block ring starts empty: ' + ring.replace(/\n/g, ', '));
    await t.forwardTo(page, 'bumps req_prod');
    ring = await t.ringText(page, 'vbd/');
    t.expect(/req_prod 1\b/.test(ring) && /rsp_prod 0\b/.test(ring), 'req_prod moves to 1 when blkfront pushes: ' + ring.replace(/\n/g, ', '));
    await t.shot(page, out, 'live-request-queued.png');

    const send = await t.forwardTo(page, 'EVTCHNOP_send(dom1');
    const port = Number(/dom0 port (\d+)/.exec(send)[1]);
    t.expect((await page.textContent('#sends')).includes(`dom0 port ${port}`), `an arrow goes from dom1 to dom0 port ${port}`);
    const cell = `.evdom[data-domid="0"] .cell[data-port="${port}"]`;
    if (send.includes('already pending')) {
      /* An earlier notification's upcall had not run yet: Xen coalesces,
       * raises nothing, and the bit is pending at this very step. */
      t.expect(await page.$eval(cell, (c) => c.classList.contains('pending')), `dom0 port ${port} is pending (coalesced send)`);
    } else {
      await t.forwardTo(page, 'selector bit set');
      t.expect(await page.$eval(cell, (c) => c.classList.contains('pending')), `dom0 port ${port} is pending in the bitmap`);
      t.expect(await page.$eval('.evdom[data-domid="0"] .vcpu[data-vcpu="0"] .upcall', (e) => e.classList.contains('on')),
        "dom0 vcpu0's evtchn_upcall_pending is set");
    }
    await t.shot(page, out, 'live-port-pending.png');

    await t.forwardTo(page, 'blkback copies request');
    t.expect(!(await page.$eval(cell, (c) => c.classList.contains('pending'))), `blkback's handler has acked dom0 port ${port}`);
    await t.forwardTo(page, 'pushes rsp_prod = 1');
    ring = await t.ringText(page, 'vbd/');
    t.expect(/rsp_prod 1\b/.test(ring), 'rsp_prod moves to 1 when blkback answers: ' + ring.replace(/\n/g, ', '));
    await t.forwardTo(page, 'completed the READ');

    /* The end of the run, followed live. */
    await page.click('#last');
    await page.waitForFunction(() => document.getElementById('narration-text').textContent.includes('unplugs the devices'));
    t.expect(true, 'the page follows the demo to its last step');
    await t.shot(page, out, 'live-end.png');
  } finally {
    await browser.close();
  }
}

main().catch((e) => { console.error('not ok - ' + e.message); process.exit(1); });
