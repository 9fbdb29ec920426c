// The `mando dev` page in a real browser (tests/browser_test.cpp runs this against a running
// `mando dev`): Debian's chromium, headless, driven by playwright-core.
//
// Usage: node emulator_page.mjs EMULATOR_URL
//
// What it checks, in order (each wait is bounded; nothing here measures time):
//   1. /mando typed ten times in a row through the page's input, like a user: ten messages,
//      each showing its decoded image (img.complete and naturalWidth > 0).
//   2. Forty more commands through the control API, then a reload: all fifty messages show
//      their images (the page keeps one update stream, so connections are never exhausted).
//   3. Re-roll clicked on a message: a new message appears with its image.
//   4. A mandala attached through the page's file picker and /transform sent: a new message
//      whose sheet shows, titled "1 image, 64 × 64".
//   5. Transform images (the message command, under Apps) on that message: another sheet,
//      "1 image, 512 × 512".
//   6. /imagine typed (the fake GPU provider `mando dev` runs): after its progress lines, a
//      message titled with the prompt showing the 2 × 2 grid of its four images.
// On success it prints one JSON line ({"typed", "reloaded", "rerolled", "transformed",
// "imagined", "max_events_open"})
// and exits 0; on failure it prints the reason to stderr and exits 1.

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";

const base = process.argv[2];
if (!base) {
  console.error("usage: node emulator_page.mjs EMULATOR_URL");
  process.exit(2);
}
const kWait = 120_000;  // the bound of every wait: generous, the build may be a sanitizer one

// Chromium's own connections to Google are refused on the test machines; these flags stop it
// trying (and stalling) and keep it from touching anything outside its fresh profile.
const kArgs = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
               "--disable-background-networking", "--disable-component-update", "--disable-sync"];

// Runs in the page (installed as window.loadedMessages): the messages (nodes with a snowflake)
// whose every image is decoded, and how many messages there are.
function loadedMessages() {
  const rows = [...document.querySelectorAll("#log .msg[data-id]")];
  const ready = rows.filter(r => {
    const imgs = [...r.querySelectorAll("img.media")];
    return imgs.length > 0 && imgs.every(i => i.complete && i.naturalWidth > 0);
  });
  return { total: rows.length, ready: ready.map(r => r.dataset.id) };
}

async function waitLoaded(page, count, what) {
  try {
    await page.waitForFunction(n => {
      const seen = window.loadedMessages();
      return seen.total >= n && seen.ready.length === seen.total;
    }, count, { timeout: kWait, polling: 100 });
  } catch (e) {
    const seen = await page.evaluate(() => window.loadedMessages());
    throw new Error(`${what}: ${seen.ready.length} of ${seen.total} messages show a decoded ` +
                    `image, wanted ${count} (${e.message.split("\n")[0]})`);
  }
}

const shown = page => page.evaluate(() => window.loadedMessages().ready);

async function control(path, body) {
  const r = await fetch(base + path, body === undefined ? {} : {
    method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
  const json = await r.json();
  if (!r.ok) throw new Error(`${path}: HTTP ${r.status} ${JSON.stringify(json)}`);
  return json;
}

const profile = mkdtempSync(join(tmpdir(), "mando-browser-"));
let context;
let exitCode = 0;
try {
  context = await chromium.launchPersistentContext(profile, {
    executablePath: "/usr/bin/chromium", args: kArgs, headless: true });
  await context.addInitScript(`window.loadedMessages = ${loadedMessages.toString()};`);
  const page = context.pages()[0] || await context.newPage();
  // The page's update stream: how many of its requests were ever open at once (item 12 of
  // issue 11: one long poll per message exhausted Chromium's six connections per host).
  let eventsOpen = 0;
  let maxEventsOpen = 0;
  const isEvents = r => r.url().includes("/_emulator/events");
  page.on("request", r => { if (isEvents(r)) maxEventsOpen = Math.max(maxEventsOpen, ++eventsOpen); });
  const closed = r => { if (isEvents(r)) eventsOpen--; };
  page.on("requestfinished", closed);
  page.on("requestfailed", closed);
  page.on("pageerror", e => console.error("page error: " + e.message));
  await page.goto(base + "/", { waitUntil: "load", timeout: kWait });

  // 1. Ten in a row, as fast as a user presses Enter.
  for (let i = 0; i < 10; i++) {
    await page.fill("#cmd", "/mando");
    await page.press("#cmd", "Enter");
  }
  await waitLoaded(page, 10, "ten typed commands");

  // 2. Forty more, then a reload shows all fifty.
  const sends = [];
  for (let i = 0; i < 40; i++) sends.push(control("/_emulator/interactions", { text: "/mando" }));
  await Promise.all(sends);
  for (let ready = false; !ready;) {
    ready = (await control("/_emulator/wait?messages=50&timeout_ms=25000")).ready;
  }
  await page.reload({ waitUntil: "load", timeout: kWait });
  await waitLoaded(page, 50, "after the reload");
  const reloaded = (await shown(page)).length;

  // 3. Re-roll on the newest message: one more message, with its image.
  const before = new Set(await shown(page));
  await page.locator("#log .msg[data-id]").last().getByRole("button", { name: "Re-roll" }).click();
  await waitLoaded(page, before.size + 1, "after Re-roll");
  const after = (await shown(page)).filter(id => !before.has(id));
  if (after.length !== 1) throw new Error(`Re-roll made ${after.length} new messages, wanted 1`);

  // 4. The newest mandala, attached as a file the way a user picks one, then /transform.
  const newest = page.locator("#log .msg[data-id]").last();
  const src = await newest.locator("img.media").first().getAttribute("src");
  const mandala = Buffer.from(await (await fetch(new URL(src, base))).arrayBuffer());
  await page.fill("#cmd", "/transform size:64 crop:centre");
  await page.setInputFiles("#files", { name: "mandala.png", mimeType: "image/png", buffer: mandala });
  await page.waitForFunction(() => /image1:mandala\.png$/.test(document.getElementById("cmd").value),
                             null, { timeout: kWait });
  const transformed = [];
  for (const [action, title] of [
           [() => page.press("#cmd", "Enter"), "1 image, 64 × 64"],
           // 5. The message command on the message that step 4 made.
           [() => page.locator(`#log .msg[data-id="${transformed[0]}"]`)
                      .getByRole("button", { name: "Transform images" }).click(),
            "1 image, 512 × 512"]]) {
    const seen = new Set(await shown(page));
    await action();
    await waitLoaded(page, seen.size + 1, `waiting for "${title}"`);
    const made = (await shown(page)).filter(id => !seen.has(id));
    if (made.length !== 1) throw new Error(`${title}: ${made.length} new messages, wanted 1`);
    const got = await page.locator(`#log .msg[data-id="${made[0]}"] .embed .title`).textContent();
    if (got !== title) throw new Error(`the sheet's title is "${got}", wanted "${title}"`);
    transformed.push(made[0]);
  }

  // 6. /imagine, through the fake provider.
  const seenBefore = new Set(await shown(page));
  await page.fill("#cmd", '/imagine prompt:"a lighthouse at dusk" count:4');
  await page.press("#cmd", "Enter");
  await waitLoaded(page, seenBefore.size + 1, "waiting for /imagine");
  const imagined = (await shown(page)).filter(id => !seenBefore.has(id));
  if (imagined.length !== 1) throw new Error(`/imagine made ${imagined.length} messages, wanted 1`);
  const title = await page.locator(`#log .msg[data-id="${imagined[0]}"] .embed .title`).textContent();
  if (title !== "a lighthouse at dusk") throw new Error(`/imagine's title is "${title}"`);

  console.log(JSON.stringify({ typed: 10, reloaded, rerolled: after.length,
                               transformed: transformed.length, imagined: imagined.length,
                               max_events_open: maxEventsOpen }));
} catch (e) {
  console.error(e.stack || String(e));
  exitCode = 1;
} finally {
  if (context) await context.close();
  rmSync(profile, { recursive: true, force: true });
}
process.exit(exitCode);
