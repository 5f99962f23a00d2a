/*
 * `xensim view run.json` in headless Chromium: the player opens on the
 * READ walkthrough; stepping forward and back, the narration and the
 * block ring's indices follow; the timeline jumps; play advances by
 * itself and pause stops it. Usage: node player.js URL ARTIFACT_DIR
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
    t.expect((await page.textContent('#mode')).includes('recording'), 'the page says it plays a recording');
    t.expect((await t.narration(page)).includes('reads sector 0'), 'the player opens on the READ walkthrough');
    const start = await t.stepNo(page);

    t.expect(/req_prod 0\b/.test(await t.ringText(page, 'vbd/')), 'the block ring is empty before the request');
    await t.forwardTo(page, 'queues READ');
    await t.forwardTo(page, 'bumps req_prod');
    const bump = await t.stepNo(page);
    t.expect(/req_prod 1\b/.test(await t.ringText(page, 'vbd/')), 'a step forward: req_prod is 1');
    await t.click(page, 'back', bump - 1);
    t.expect((await t.narration(page)).includes('queues READ'), 'a step back: the narration is the step before');
    t.expect(/req_prod 0\b/.test(await t.ringText(page, 'vbd/')), 'a step back: req_prod is 0 again');
    await t.click(page, 'forward', bump);

    const send = await t.forwardTo(page, 'EVTCHNOP_send(dom1');
    const port = Number(/dom0 port (\d+)/.exec(send)[1]);
    /* A coalesced send raises nothing: the bit is pending at its step. */
    if (!send.includes('already pending'))
      await t.forwardTo(page, 'selector bit set');
    t.expect(await page.$eval(`.evdom[data-domid="0"] .cell[data-port="${port}"]`, (c) => c.classList.contains('pending')),
      `dom0 port ${port} is pending at its step`);
    await t.shot(page, out, 'player-port-pending.png');
    await t.forwardTo(page, 'pushes rsp_prod = 1');
    t.expect(/rsp_prod 1\b/.test(await t.ringText(page, 'vbd/')), 'rsp_prod is 1 once blkback answered');
    await t.forwardTo(page, 'takes the response');
    t.expect(/req_prod 1\b/.test(await t.ringText(page, 'vbd/')), 'the ring keeps its indices after the response');

    /* The timeline: to the end and back to the start of the chapter. */
    const n = await page.evaluate(() => window.xensimView.model.steps.length);
    await page.$eval('#timeline', (e, v) => { e.value = v; e.dispatchEvent(new Event('input')); }, n - 1);
    await page.waitForFunction((s) => document.body.dataset.step === String(s), n - 1);
    t.expect((await t.narration(page)).includes('unplugs the devices'), 'the timeline reaches the last step');
    await page.click(`#steps li[data-step="${start}"]`);
    await page.waitForFunction((s) => document.body.dataset.step === String(s), start);
    t.expect((await t.narration(page)).includes('reads sector 0'), 'a click in the list goes back to that step');

    /* Play goes on by itself; pause stops it. */
    await page.selectOption('#speed', '900');
    await page.click('#play');
    await page.waitForFunction((s) => Number(document.body.dataset.step) >= s + 2, start);
    await page.click('#play');
    t.expect(!(await page.evaluate(() => window.xensimView.view.playing)), 'pause stops the player');
    await page.waitForFunction(() => document.getElementById('play').textContent === '▶');
    t.expect(true, 'the button offers to play again');
    const paused = await t.stepNo(page);
    await t.click(page, 'forward', paused + 1);
    t.expect(!(await page.evaluate(() => window.xensimView.view.playing)), 'a step after pause stays paused');
  } finally {
    await browser.close();
  }
}

main().catch((e) => { console.error('not ok - ' + e.message); process.exit(1); });
