// The board in headless Chromium (Debian's /usr/bin/chromium, driven by playwright-core):
// log in, see the queue's counts, open the dead task (its error and its attempts table), retry
// it and watch it finish, pause the queue and see the worker stop claiming (pending grows, done
// stays), resume; find the worker registered on the workers page; set the queue's limits (a cap
// of 2 and a rate, then without the rate) on its page; filter its tasks by id; run every
// pending task now in bulk. A screenshot of
// each page goes to SHOTS. Run by tests/browser.rs, which starts the board and the worker.
//
// Environment: BOARD (the board's URL), TOKEN (an operator token), QUEUE, SHOTS (a folder),
// CHROMIUM (the browser, default /usr/bin/chromium). NODE_PATH must find playwright-core.
"use strict";
const { chromium } = require("playwright-core");

const board = process.env.BOARD;
const token = process.env.TOKEN;
const queue = process.env.QUEUE || "email";
const shots = process.env.SHOTS;
const wait = { timeout: 15000 };
let current = null; // the page, for a screenshot when a step fails

function step(what) {
  console.log("step: " + what);
}

async function shot(page, name) {
  await page.screenshot({ path: shots + "/" + name + ".png", fullPage: true });
  console.log("screenshot: " + shots + "/" + name + ".png");
}

// The overview's count of `status` for our queue, as shown now.
async function count(page, status) {
  const text = await page.locator('tr[data-queue="' + queue + '"] td[data-count="' + status + '"]').innerText();
  return Number(text.trim());
}

// Poll the shown page until `test` holds (the page refreshes itself every 2 s).
async function until(what, test, timeout) {
  const deadline = Date.now() + (timeout || 15000);
  for (;;) {
    const value = await test();
    if (value) return value;
    if (Date.now() > deadline) throw new Error("timed out waiting for " + what);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function main() {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    headless: true,
    args: ["--no-sandbox", "--disable-dev-shm-usage"],
  });
  try {
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    current = page;
    page.on("dialog", (dialog) => dialog.accept());
    page.on("response", (response) => {
      if (response.status() >= 400) console.log("answer " + response.status() + " to " + response.request().method() + " " + response.url());
    });
    page.on("pageerror", (error) => console.log("page error: " + error));

    step("without a session the board refuses and links to the login form");
    const refused = await page.goto(board + "/");
    if (refused.status() !== 401) throw new Error("the board answered " + refused.status() + " without a session");
    await shot(page, "00-refused");
    await Promise.all([page.waitForURL(/\/_board\/login/, wait), page.click('a[href="/_board/login"]')]);
    await shot(page, "01-login");
    await page.fill('input[name="token"]', token);
    await Promise.all([page.waitForURL(board + "/", wait), page.click("form.login button")]);

    step("the overview shows the queue's counts");
    const row = page.locator('tr[data-queue="' + queue + '"]');
    await row.waitFor(wait);
    await until("a dead task in the overview", async () => (await count(page, "dead")) >= 1);
    const shown = {};
    for (const status of ["pending", "running", "done", "dead", "cancelled"]) shown[status] = await count(page, status);
    console.log("counts: " + JSON.stringify(shown));
    await shot(page, "02-overview");

    step("the dead count opens the queue's dead tasks");
    await Promise.all([page.waitForURL(/status=dead/, wait), row.locator('td[data-count="dead"] a').click()]);
    const deadRow = page.locator("table.tasks tr[data-task]").first();
    await deadRow.waitFor(wait);
    const id = await deadRow.getAttribute("data-task");
    console.log("dead task: " + id);
    await shot(page, "03-queue-dead");

    step("the task's page shows it dead with its error");
    await Promise.all([page.waitForURL(new RegExp("/tasks/" + id), wait), deadRow.locator("a").first().click()]);
    const status = page.locator('dd[data-field="status"]');
    await status.waitFor(wait);
    if ((await status.innerText()).trim() !== "dead") throw new Error("the task is not shown dead");
    const error = await page.locator('pre[data-field="last-error"]').innerText();
    if (!error.includes("SMTP 550")) throw new Error("the task's error is not shown: " + error);
    const attempt = page.locator('table[data-field="attempts-table"] tr[data-attempt="1"]');
    await attempt.waitFor(wait);
    if (!(await attempt.innerText()).includes("SMTP 550")) throw new Error("the attempts table lacks the failed attempt");
    await shot(page, "04-task-dead");

    step("retry it and watch it finish");
    await page.click('form[data-post$="/retry"] button');
    await page.locator("#flash.ok").waitFor(wait);
    await until("the retried task shown done", async () => (await status.innerText()).trim() === "done");
    await shot(page, "05-task-done");

    step("pause the queue: the worker stops claiming");
    await page.goto(board + "/");
    await row.waitFor(wait);
    await row.locator('form[data-post$="/pause"] button').click();
    await row.locator(".badge.paused").waitFor(wait);
    // Tasks claimed before the pause may still finish; then done must stay while pending grows.
    await until("nothing running in the paused queue", async () => (await count(page, "running")) === 0);
    const done = await count(page, "done");
    const pending = await count(page, "pending");
    await until("pending to grow while paused", async () => (await count(page, "pending")) >= pending + 3);
    const doneLater = await count(page, "done");
    if (doneLater !== done) throw new Error("done moved from " + done + " to " + doneLater + " while paused");
    console.log("paused: done stayed at " + done + ", pending grew from " + pending + " to " + (await count(page, "pending")));
    await shot(page, "06-overview-paused");

    step("resume: the worker claims again");
    await row.locator('form[data-post$="/resume"] button').click();
    await until("the queue shown active", async () => (await row.locator(".badge.paused").count()) === 0);
    await until("done to move after resuming", async () => (await count(page, "done")) > done);
    await shot(page, "07-overview-resumed");

    step("the queue's page and the workers page");
    await page.goto(board + "/stores/sqlite/queues/" + queue);
    await page.locator("table.tasks").waitFor(wait);
    await shot(page, "08-queue");
    await page.goto(board + "/workers");
    await page.locator("h1", { hasText: "Workers" }).waitFor(wait);
    // The worker registered itself: listed with its concurrency and a heartbeat a moment ago.
    const worker = page.locator("table.workers tr[data-worker]", { hasText: "browser-test-worker" });
    await worker.waitFor(wait);
    if (!/ of \d+/.test(await worker.innerText())) throw new Error("the worker's running count is not shown");
    await shot(page, "09-workers");

    step("the queue's page shows its limits; set a cap and a rate, then remove the rate");
    await page.goto(board + "/stores/sqlite/queues/" + queue);
    const limits = page.locator("form.limits");
    await limits.waitFor(wait);
    const shownLimit = (name) => page.locator('dd[data-limit="' + name + '"]').innerText().then((t) => t.trim());
    if ((await shownLimit("max-running")) !== "no cap") throw new Error("a fresh queue shows a cap");
    await limits.locator('input[name="max_running"]').fill("2");
    await limits.locator('input[name="rate.starts"]').fill("600");
    await limits.locator('select[name="rate.per_ms"]').selectOption("60000");
    await limits.locator("button").click();
    await page.locator("#flash.ok").waitFor(wait);
    await until("the cap shown", async () => (await shownLimit("max-running")) === "2");
    await until("the rate shown", async () => (await shownLimit("rate")) === "600 per minute");
    console.log("limits: " + (await page.locator("#flash").innerText()));
    await shot(page, "10-queue-limits");
    await limits.locator('input[name="rate.starts"]').fill("");
    await limits.locator("button").click();
    await until("the rate removed", async () => (await shownLimit("rate")) === "no limit");
    if ((await shownLimit("max-running")) !== "2") throw new Error("removing the rate changed the cap");

    step("filter the queue's tasks by id, then run every pending task now in bulk");
    const filters = page.locator("form.filters");
    await filters.locator('input[name="id"]').fill(id);
    await Promise.all([page.waitForURL(new RegExp("id=" + id), wait), filters.locator("button").click()]);
    await until("only the filtered task listed", async () => {
      const rows = await page.locator("table.tasks tr[data-task]").evaluateAll((r) => r.map((e) => e.getAttribute("data-task")));
      return rows.length === 1 && rows[0] === id;
    });
    await shot(page, "11-queue-filtered");
    await page.goto(board + "/stores/sqlite/queues/" + queue + "?status=pending");
    const runAll = page.locator('form[data-bulk="run_now"] button');
    await runAll.waitFor(wait);
    await runAll.click();
    await page.locator("#flash.ok", { hasText: "due now" }).waitFor(wait);
    console.log("bulk: " + (await page.locator("#flash").innerText()));

    step("the schedules page lists the recurring job with its next tick");
    await page.goto(board + "/schedules");
    await page.locator('tr[data-schedule="daily-digest"] td[data-field="next-tick"] time').waitFor(wait);
    await shot(page, "12-schedules");
    console.log("ok: " + id);
  } catch (error) {
    if (current) {
      await shot(current, "failed").catch(() => {});
      console.log("failed on " + current.url() + ":\n" + (await current.locator("body").innerText().catch(() => "")));
    }
    throw error;
  } finally {
    await browser.close();
  }
}

main().catch((error) => {
  console.error("browser test failed: " + (error && error.stack ? error.stack : error));
  process.exit(1);
});
