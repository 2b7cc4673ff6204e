// The HTML report as a person sees it: `tracebuild show --html` on a trojanized trace whose
// argv carries a script, opened in Debian's headless Chromium (installed by scripts/env.sh)
// through playwright-core. Checks what is rendered after the page's own script ran under
// its CSP: every step, the changed digest, the rogue peer, one timeline bar per step sized
// by wall time, the loss warning near the top, and no injected markup or script.
//
// Needs only Chromium (no daemon). Outside CI it skips with a printed reason when
// /usr/bin/chromium is missing; in CI it fails instead. A screenshot is left in
// .test-results/report-html.png for a human to look at.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { runCli } from '../../cli/app.js';
import type { CliIo } from '../../cli/io.js';
import { inCI, repoRoot } from '../helpers/index.js';

const CHROMIUM = '/usr/bin/chromium';
const HOSTILE_ARGV = '<script>alert(1)</script>';
const TROJAN_DIGEST = 'sha256:5b4128b353821961824884ffd9274c8fa9101ec0b3acc79ffb3c85b64d26bf18';

const haveChromium = existsSync(CHROMIUM);
if (!haveChromium) {
  const reason = `${CHROMIUM} is missing (scripts/env.sh installs Debian's chromium)`;
  if (inCI()) throw new Error(`report-html: ${reason}; in CI this test must run`);
  console.warn(`skipping the HTML report test: ${reason} (set CI=true to make this a failure)`);
}

/** trojanized.json, plus a process whose argv is a script tag and an image tag, and lost events. */
function hostileTrace(): unknown {
  const doc = JSON.parse(readFileSync(path.join(repoRoot, 'testdata', 'policies', 'traces', 'trojanized.json'), 'utf8')) as {
    lostEvents: number;
    buildSteps: { lostEvents: number; processes: Record<string, unknown>[] }[];
  };
  const step = doc.buildSteps[5];
  if (step === undefined) throw new Error('trojanized.json changed');
  step.processes.push({
    ...step.processes[1],
    pid: 203,
    ppid: 202,
    argv: ['sh', '-c', HOSTILE_ARGV, '<img src=x onerror=alert(2)>'],
  });
  step.lostEvents = 2;
  doc.lostEvents = 2;
  return doc;
}

describe.skipIf(!haveChromium)('HTML report in Chromium', () => {
  let work: string;
  let context: BrowserContext;
  let page: Page;
  const dialogs: string[] = [];
  const consoleErrors: string[] = [];
  const requests: string[] = [];
  let reportUrl: string;

  beforeAll(async () => {
    work = mkdtempSync(path.join(tmpdir(), 'report-html-'));
    const tracePath = path.join(work, 'hostile.json');
    writeFileSync(tracePath, JSON.stringify(hostileTrace()));
    const reportPath = path.join(work, 'report.html');

    let stderr = '';
    const io: CliIo = {
      stdout: { write: () => undefined },
      stderr: { write: (s: string) => void (stderr += s) },
      env: {},
      cwd: work,
      clock: { now: () => Date.UTC(2025, 2, 1, 12) },
      ticker: () => () => undefined,
    };
    const code = await runCli(['show', tracePath, '--html', reportPath], io, {
      version: 'test',
      loadToolchain: () => Promise.reject(new Error('not needed')),
    });
    expect(code, stderr).toBe(0);
    reportUrl = pathToFileURL(reportPath).href;

    context = await chromium.launchPersistentContext(path.join(work, 'profile'), {
      executablePath: CHROMIUM,
      headless: true,
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
      viewport: { width: 1280, height: 1000 },
    });
    page = context.pages()[0] ?? (await context.newPage());
    page.setDefaultTimeout(10_000);
    page.on('dialog', (d) => {
      dialogs.push(d.message());
      void d.dismiss();
    });
    page.on('console', (m) => {
      if (m.type() === 'error') consoleErrors.push(m.text());
    });
    page.on('pageerror', (e) => consoleErrors.push(String(e)));
    page.on('request', (r) => {
      if (r.url() !== reportUrl) requests.push(r.url());
    });
    await page.goto(reportUrl, { waitUntil: 'load' });
  }, 120_000);

  afterAll(async () => {
    await context?.close();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  test('its own script ran under the CSP, and nothing else ran or loaded', async () => {
    expect(await page.getAttribute('html', 'data-script')).toBe('ran');
    expect(await page.getByRole('button', { name: 'Expand all' }).isVisible()).toBe(true);
    expect(await page.evaluate('document.scripts.length')).toBe(1);
    expect(await page.locator('img').count()).toBe(0);
    expect(dialogs).toEqual([]);
    expect(consoleErrors).toEqual([]); // a CSP refusal would be logged here
    expect(requests).toEqual([]);
  });

  test('the hostile argv is shown as text', async () => {
    const argv = page.locator('code.argv', { hasText: HOSTILE_ARGV });
    expect(await argv.count()).toBe(1);
    expect(await argv.innerText()).toBe(`sh -c '${HOSTILE_ARGV}' '<img src=x onerror=alert(2)>'`);
    expect(await argv.isVisible()).toBe(true);
  });

  test('the loss of events is said before the timeline', async () => {
    const alert = page.locator('header .note.bad').first();
    expect(await alert.innerText()).toBe('2 kernel event(s) were lost (2 in steps flagged “lost”): this trace is incomplete.');
    const alertBox = await alert.boundingBox();
    const timelineBox = await page.locator('section.timeline').boundingBox();
    expect(alertBox!.y).toBeLessThan(timelineBox!.y);
  });

  test('every step is listed with its Dockerfile line and instruction, in the timeline and below', async () => {
    const expected = [
      'Dockerfile:1 FROM busybox:local',
      'Dockerfile:2 COPY cc /usr/local/bin/cc',
      'Dockerfile:3 WORKDIR /src',
      'Dockerfile:4 COPY main.c .',
      'Dockerfile:5 RUN wget -O /tmp/zlib.tar http://127.0.0.1:8080/zlib.tar',
      'Dockerfile:6 RUN cc -o /out/app main.c',
    ];
    const labels = await page.locator('.tl-row .tl-label').evaluateAll((els) => els.map((e) => (e.textContent ?? '').replace(/(Dockerfile:\d+)/, '$1 ')));
    expect(labels).toEqual(expected);
    const summaries = await page.locator('details.step > summary').evaluateAll((els) =>
      els.map((e) => `${e.querySelector('.loc')?.textContent ?? ''} ${e.querySelector('.ins')?.textContent ?? ''}`),
    );
    expect(summaries).toEqual(expected);
    for (const row of await page.locator('.tl-row').all()) expect(await row.isVisible()).toBe(true);
  });

  test('one bar per step, placed in time and as wide as its wall time, coloured by status', async () => {
    const bars = page.locator('rect.tl-bar');
    expect(await bars.count()).toBe(6);
    const boxes = await Promise.all((await bars.all()).map((b) => b.boundingBox()));
    for (const b of boxes) expect(b!.width).toBeGreaterThan(0);
    const [, , , , wget, cc] = boxes;
    // RUN wget ran 700ms, RUN cc 400ms; cc started after wget finished
    expect(wget!.width / cc!.width).toBeCloseTo(700 / 400, 1);
    expect(cc!.x).toBeGreaterThan(wget!.x + wget!.width);
    type PageWindow = { getComputedStyle(e: unknown): { fill: string } }; // runs in the page
    const fills = await bars.evaluateAll((els) => els.map((e) => (globalThis as unknown as PageWindow).getComputedStyle(e).fill));
    expect(fills[0]).not.toBe(fills[5]); // cached vs ran
    expect(new Set(fills.slice(1))).toHaveProperty('size', 1);
    // CPU and peak memory beside the bar
    const nums = page.locator('.tl-row').nth(5).locator('.tl-nums');
    expect(await nums.innerText()).toBe('2 lost 400ms · CPU 250ms · mem 9.0M');
    expect(await nums.locator('.flag.bad').isVisible()).toBe(true);
  });

  test('the trojanized compiler digest, the implant and the 127.0.0.1:9999 peer are visible', async () => {
    await page.getByRole('button', { name: 'Collapse all' }).click();
    const step = page.locator('details#step-5');
    expect(await step.getByText(TROJAN_DIGEST).isVisible()).toBe(false);
    await page.locator('.tl-row').nth(5).click(); // the timeline row opens its step
    expect(await step.evaluate((d) => (d as unknown as { open: boolean }).open)).toBe(true);
    expect(await step.getByText(TROJAN_DIGEST, { exact: true }).isVisible()).toBe(true);
    expect(await step.getByText('/src/.cc-implant.o', { exact: true }).isVisible()).toBe(true);
    const peer = step.locator('code.peer');
    expect(await peer.innerText()).toBe('127.0.0.1:9999');
    expect(await peer.isVisible()).toBe(true);
    expect(await step.locator('.flag.bad').innerText()).toBe('2 lost');
  });

  test('leaves a screenshot for a person to look at', async () => {
    await page.getByRole('button', { name: 'Expand all' }).click();
    const dir = path.join(repoRoot, '.test-results');
    mkdirSync(dir, { recursive: true });
    await page.screenshot({ path: path.join(dir, 'report-html.png'), fullPage: true });
    expect(existsSync(path.join(dir, 'report-html.png'))).toBe(true);
  });
});
