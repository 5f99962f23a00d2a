/*
 * The player on a recording of `xensim demo --evtchn fifo`: the event
 * panel draws FIFO, not 2-level bitmaps; at the first step where Xen sets
 * a READY bit, the port the send before it raised is pending, LINKED and
 * on its vCPU's queue of priority 7 (the default), READY bit 7 and
 * evtchn_upcall_pending are set; once the guest has consumed it, the
 * port is off the queue. Usage: node fifo.js URL ARTIFACT_DIR
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
    await page.waitForSelector('.evdom[data-domid="0"][data-abi="fifo"]');
    t.expect((await page.textContent('.evdom[data-domid="0"] h3')).includes('FIFO'),
      "dom0's events are drawn as FIFO: " + (await page.textContent('.evdom[data-domid="0"] h3')));
    t.expect(!(await page.textContent('#evtchn')).includes('evtchn_pending_sel'),
      'no 2-level selector is drawn for a FIFO domain');

    /* The first raise a student sees: a send, then READY. */
    let send = null, line = await t.narration(page);
    const steps = await page.evaluate(() => window.xensimView.model.steps.length);
    while (!line.includes('READY bit set')) {
      if (line.includes('EVTCHNOP_send(')) send = line;
      const s = await t.stepNo(page);
      if (s >= steps - 1) t.fail('no step sets a READY bit');
      await t.click(page, 'forward', s + 1);
      line = await t.narration(page);
    }
    t.expect(send !== null, 'a send comes before the READY bit: ' + send);
    const m = /: dom(\d+) port (\d+) marked pending/.exec(send);
    t.expect(m !== null, 'the send marked a port pending');
    const dom = m[1], port = m[2];
    t.expect(line.includes(`dom${dom} vcpu0`), `READY is set on dom${dom} vcpu0: ${line}`);
    const cell = `.evdom[data-domid="${dom}"] .cell[data-port="${port}"]`;
    const cls = await page.$eval(cell, (c) => c.className);
    t.expect(/\bpending\b/.test(cls) && /\blinked\b/.test(cls), `dom${dom} port ${port} is pending and LINKED: ${cls}`);
    const q = `.evdom[data-domid="${dom}"] .queue[data-vcpu="0"][data-prio="7"]`;
    const ports = (await page.$eval(q, (e) => e.dataset.ports)).split(' ');
    t.expect(ports.includes(port), `dom${dom} port ${port} is on vcpu0's queue of priority 7: ${ports.join(' ')}`);
    t.expect(await page.$eval(`.evdom[data-domid="${dom}"] .vcpu[data-vcpu="0"] .ready span:nth-child(8)`,
      (e) => e.classList.contains('on')), 'READY bit 7 is set');
    t.expect(await page.$eval(`.evdom[data-domid="${dom}"] .vcpu[data-vcpu="0"] .upcall`,
      (e) => e.classList.contains('on')), 'evtchn_upcall_pending is set');
    await t.shot(page, out, 'fifo-queued.png');

    /* The guest takes it: unlinked before its handler runs. */
    await t.forwardTo(page, `enters dom${dom}'s event callback`);
    const handled = dom === '0' ? 'blkback copies request' : 'blkfront takes the response';
    await t.forwardTo(page, handled);
    t.expect(!(await page.$eval(cell, (c) => c.classList.contains('linked'))),
      `dom${dom} port ${port} is off its queue once ${handled.split(' ')[0]} took it`);
    const left = await page.$(q);
    t.expect(!left || !(await left.evaluate((e) => e.dataset.ports.split(' ').includes(port))),
      'the queue of priority 7 no longer holds it');
  } finally {
    await browser.close();
  }
}

main().catch((e) => { console.error('not ok - ' + e.message); process.exit(1); });
