// The dashboard in a real browser (Debian's chromium through playwright-core) on the demo clip: a live mood
// within 10 s of the camera starting with the page open, the notice, labelled face boxes, the timeline and the status; the page fits 1920x1080 and
// 800x480 without scrolling; a screenshot at each size goes to reports/test-artifacts/.
import fs from 'node:fs';
import { CLIP_CACHE_DIR, DEMO_CLIP } from './helpers/clips/reference.js';
import { SMALL_EMPTY_ROOM, emptyRoomClip } from './helpers/clips/empty-room.js';
import { EMOTIONS } from '../src/types.js';
import { artifactPath, launchBrowser, missingChromium } from './helpers/browser.js';
import { makeHttpDaemon } from './helpers/http-daemon.js';
import { missingModel, testModel } from './helpers/shared-data.js';
import { firstMissing, testUnless } from './helpers/skip.js';

// Functions below run in the page; the project's TypeScript has no DOM types, so these few are declared loosely.
declare const document: any, window: any, MutationObserver: any;

const missing = firstMissing(missingChromium(), missingModel(), !fs.existsSync(DEMO_CLIP) && `${DEMO_CLIP} not found (deploy/setup.sh makes it)`);

testUnless(missing)(
  'the dashboard shows a live mood within 10 s of opening on the demo clip, with the notice, boxes, timeline and status, at 1920x1080 and 800x480',
  async (t) => {
    const { daemon, http, url } = await makeHttpDaemon({ 'source.uri': DEMO_CLIP, 'source.pace': 'realtime', 'classifier.model': testModel() as string });
    // Paused until the page is open, so that the page sees the first face come (frames meanwhile are dropped).
    daemon.setPaused(true);
    await daemon.start();
    const browser = await launchBrowser({ width: 1920, height: 1080 });
    try {
      const page = await browser.context.newPage();
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push(e.message));
      page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
      // When #mood first holds an emotion, by the wall clock the daemon uses too (same machine).
      await page.addInitScript(() => {
        new MutationObserver(() => {
          const el = document.getElementById('mood');
          if (window.firstMoodAt === undefined && el?.dataset.emotion) window.firstMoodAt = performance.timeOrigin + performance.now();
        }).observe(document, { subtree: true, childList: true, attributes: true, characterData: true });
      });
      await page.goto(`${url}/`);
      await page.waitForFunction(() => document.getElementById('st-camera-text').textContent === 'paused', undefined, { timeout: 10_000 });
      t.is(await page.textContent('#mood'), 'No one in view');
      t.is(await page.getAttribute('#mood', 'data-emotion'), null);
      daemon.setPaused(false);
      await page.waitForFunction(() => Boolean(document.getElementById('mood').dataset.emotion), undefined, { timeout: 10_000 });
      const mood = (await page.textContent('#mood')) ?? '';
      t.true(EMOTIONS.includes(mood as never), `#mood says "${mood}"`);
      t.regex((await page.getAttribute('#mood', 'class')) ?? '', new RegExp(`\\bc-${mood}\\b`), 'coloured as its emotion');
      const firstMoodAt = (await page.evaluate(() => window.firstMoodAt)) as number | undefined;
      const classifiedAt = http.live.firstClassifiedMs;
      if (firstMoodAt !== undefined && classifiedAt !== null)
        t.log(`first mood on the page ${Math.round(firstMoodAt - classifiedAt)} ms after the first classified face`);

      t.is(await page.textContent('#notice'), 'Emotion recognition is in use in this area.');
      t.true(await page.isVisible('#notice'));
      t.true(Number(await page.textContent('#faces-count')) >= 1);
      await page.waitForFunction(
        () => document.querySelectorAll('#frame rect.box').length >= 1 && document.querySelectorAll('#timeline rect').length >= 1,
        undefined,
        { timeout: 5000 },
      );
      const label = (await page.textContent('#frame text.label')) ?? '';
      t.regex(label, /^#\d+ (Angry|Fear|Happy|Neutral|Sad|Surprise|…)$/);
      t.is(await page.textContent('#st-camera-text'), 'online');
      t.is(await page.textContent('#st-mqtt-text'), 'off');
      await page.waitForFunction(() => Number(document.getElementById('st-fps').textContent) > 0, undefined, { timeout: 5000 });
      t.false(await page.isVisible('#st-idle'), 'a face in view: not idle');

      for (const size of [
        { width: 1920, height: 1080 },
        { width: 800, height: 480 },
      ]) {
        await page.setViewportSize(size);
        await page.waitForTimeout(300);
        const fit = (await page.evaluate(() => {
          const box = document.getElementById('mood').getBoundingClientRect();
          const doc = document.documentElement;
          return {
            scrollW: doc.scrollWidth,
            scrollH: doc.scrollHeight,
            w: window.innerWidth,
            h: window.innerHeight,
            mood: [box.left, box.top, box.right, box.bottom],
          };
        })) as { scrollW: number; scrollH: number; w: number; h: number; mood: number[] };
        t.true(fit.scrollW <= fit.w && fit.scrollH <= fit.h, `${size.width}x${size.height}: no scrolling (${fit.scrollW}x${fit.scrollH})`);
        const [l, top, r, b] = fit.mood as [number, number, number, number];
        t.true(l >= 0 && top >= 0 && r <= fit.w && b <= fit.h, `${size.width}x${size.height}: the mood is in view`);
        const file = artifactPath(`dashboard-${size.width}x${size.height}.png`);
        await page.screenshot({ path: file });
        t.true(fs.statSync(file).size > 10_000, file);
        t.log(`screenshot: ${file}`);
      }
      t.deepEqual(errors, [], 'no script errors');
    } finally {
      await browser.close();
      await daemon.stop();
    }
  },
);

testUnless(firstMissing(missingChromium(), missingModel()))(
  'an empty room: once it is idle, the status bar reads "(idle)" beside frames/s (only detector.idle_fps frames a second are decoded)',
  async (t) => {
    const clip = emptyRoomClip(CLIP_CACHE_DIR, SMALL_EMPTY_ROOM);
    const { daemon, url } = await makeHttpDaemon({ 'source.uri': clip.path, 'source.pace': 'realtime', 'classifier.model': testModel() as string });
    await daemon.start();
    const browser = await launchBrowser({ width: 800, height: 480 });
    try {
      const page = await browser.context.newPage();
      await page.goto(`${url}/`);
      await page.waitForFunction(() => Number(document.getElementById('st-fps').textContent) > 0, undefined, { timeout: 5000 });
      t.false(await page.isVisible('#st-idle'), 'not idle at first: the first frame is a new scene');
      await page.waitForFunction(() => !document.getElementById('st-idle').hidden, undefined, { timeout: 6000 });
      t.regex((await page.textContent('.item:has(#st-fps)')) ?? '', /^[\d.]+ fps \(idle\)$/);
      t.is(await page.textContent('#mood'), 'No one in view');
    } finally {
      await browser.close();
      await daemon.stop();
    }
  },
);
