// The page's own script (pytest-sebench, report/static/page.js): decodes the items' details, draws an
// item when it is opened, filters the list. Text from a report is only ever placed with textContent
// (or appended as a text node): nothing from it is parsed as HTML.
"use strict";
(function () {
  const root = document.documentElement;
  const rows = Array.from(document.querySelectorAll("#item-list tr.item"));
  const rowById = new Map(rows.map((row) => [row.dataset.id, row]));
  const status = document.getElementById("status");
  const shown = document.getElementById("shown-count");
  const filters = Array.from(document.querySelectorAll("select[data-filter]"));
  const search = document.getElementById("filter-search");

  // -- the data island: gzip-compressed JSON in base64 ----------------------------------------------
  async function decodeIsland() {
    const text = document.getElementById("sebench-data").textContent.trim();
    const bytes = Uint8Array.from(atob(text), (ch) => ch.charCodeAt(0));
    const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip"));
    return JSON.parse(await new Response(stream).text());
  }
  const island = decodeIsland();

  // -- drawing an item ------------------------------------------------------------------------------
  function clone(templateId) {
    return document.getElementById(templateId).content.firstElementChild.cloneNode(true);
  }

  function slot(node, name) {
    return node.querySelector(`[data-slot="${name}"]`);
  }

  function put(node, name, text) {
    const element = slot(node, name);
    element.textContent = text === null || text === undefined ? "" : String(text);
    return element;
  }

  function drop(node, name) {
    slot(node, name).remove();
  }

  // Pygments' tokens as runs (class number, length in UTF-16 units), each run a span of its class.
  function drawCode(pre, code, classes) {
    const [text, runs] = code;
    let at = 0;
    for (let i = 0; i < runs.length; i += 2) {
      const piece = text.slice(at, at + runs[i + 1]);
      at += runs[i + 1];
      const name = classes[runs[i]];
      if (name) {
        const span = document.createElement("span");
        span.className = name;
        span.textContent = piece;
        pre.append(span);
      } else {
        pre.append(piece);
      }
    }
    if (at < text.length) pre.append(text.slice(at));
  }

  function drawCases(sample, item, body) {
    const cases = item.caseSets[sample.cases] || [];
    const results = item.results[sample.got] || [];
    cases.forEach(([input, expected], index) => {
      const [got, passed, error, detail] = results[index] || [null, false, null, null];
      const row = clone("tpl-case");
      row.classList.add(passed ? "passed" : "failed");
      put(row, "number", index + 1);
      put(row, "input", input);
      put(row, "expected", expected);
      put(row, "got", error !== null ? error : got);
      put(row, "verdict", passed ? "ok" : detail || (error !== null ? "raised" : "wrong value"));
      body.append(row);
    });
    return cases.length;
  }

  function sampleFacts(sample) {
    const facts = [];
    if (typeof sample.sec === "number") facts.push(`${sample.sec.toFixed(3)} s in the sandbox`);
    const [prompt, completion, reasoning] = sample.tokens || [];
    if (completion !== null && completion !== undefined) {
      facts.push(`${prompt ?? "?"} prompt + ${completion} completion tokens` +
        (reasoning ? ` (${reasoning} reasoning)` : ""));
    }
    if (sample.finish) facts.push(`finish reason ${sample.finish}`);
    if (sample.cut) facts.push("cut at max_tokens");
    return facts.join(" · ");
  }

  function drawSample(sample, item, classes) {
    const node = clone("tpl-sample");
    const passed = sample.cat === "correct";
    node.classList.add(passed ? "passed" : "failed");
    put(node, "n", sample.n);
    put(node, "cat", sample.cat);
    put(node, "tax", sample.tax ? `(${sample.tax})` : "");
    put(node, "why", sample.why);
    put(node, "facts", sampleFacts(sample));
    if (sample.resp === null) drop(node, "resp-box");
    else {
      put(node, "resp", sample.resp);
      slot(node, "resp-box").open = sample.code === null; // with no code, the response is what failed
    }
    if (!sample.think) drop(node, "think-box");
    else put(node, "think", sample.think);
    if (sample.code === null) drop(node, "code-box");
    else drawCode(slot(node, "code"), item.codes[sample.code], classes);
    if (!drawCases(sample, item, slot(node, "cases"))) drop(node, "cases-box");
    if (!sample.stderr) drop(node, "stderr-box");
    else put(node, "stderr", sample.stderr);
    return node;
  }

  function drawDetails(row, item, classes) {
    const node = clone("tpl-details");
    put(node, "functions", row.querySelector(".functions").textContent);
    put(node, "query", item.query);
    put(node, "sig", item.sig);
    if (item.ex === null) drop(node, "example-box");
    else put(node, "example", `Input: ${item.ex[0]}\nOutput: ${item.ex[1]}`);
    if (item.prompt === null) drop(node, "prompt-box");
    else {
      put(node, "prompt", item.prompt);
      drop(node, "no-prompt");
    }
    const samples = slot(node, "samples");
    for (const sample of item.samples) samples.append(drawSample(sample, item, classes));
    return node;
  }

  function isOpen(row) {
    const next = row.nextElementSibling;
    return next !== null && next.classList.contains("details");
  }

  async function openItem(row) {
    if (isOpen(row)) return;
    const data = await island;
    const item = data.items[Number(row.dataset.index)];
    if (isOpen(row)) return; // opened meanwhile
    row.after(drawDetails(row, item, data.tokenClasses));
    row.classList.add("open");
  }

  function closeItem(row) {
    if (isOpen(row)) row.nextElementSibling.remove();
    row.classList.remove("open");
  }

  // -- filters and search ---------------------------------------------------------------------------
  function matches(row) {
    for (const select of filters) {
      if (select.value !== "" && !row.dataset[select.dataset.filter].split(" ").includes(select.value)) return false;
    }
    const wanted = search.value.trim().toLowerCase();
    return wanted === "" || row.dataset.id.toLowerCase().includes(wanted);
  }

  function applyFilters() {
    let count = 0;
    for (const row of rows) {
      const visible = matches(row);
      row.hidden = !visible;
      if (isOpen(row)) row.nextElementSibling.hidden = !visible;
      if (visible) count += 1;
    }
    shown.textContent = `${count} of ${rows.length} items shown`;
  }

  function clearFilters() {
    for (const select of filters) select.value = "";
    search.value = "";
    applyFilters();
  }

  // -- links: #<item id> opens the item ----------------------------------------------------------------
  function wantedRow() {
    let id = location.hash.slice(1);
    try {
      id = decodeURIComponent(id);
    } catch (error) {
      // a malformed escape: look the id up as written
    }
    return rowById.get(id);
  }

  async function openFromHash() {
    const row = wantedRow();
    if (row === undefined) return;
    if (row.hidden) clearFilters();
    await openItem(row);
    row.scrollIntoView({ block: "start" });
  }

  for (const select of filters) select.addEventListener("change", applyFilters);
  search.addEventListener("input", applyFilters);
  window.addEventListener("hashchange", openFromHash);
  document.getElementById("item-list").addEventListener("click", (event) => {
    const row = event.target.closest("tr.item");
    if (row === null || event.target.closest("a")) return; // a link opens through the hash
    if (isOpen(row)) closeItem(row);
    else openItem(row);
  });

  island.then(async () => {
    applyFilters();
    await openFromHash();
    status.hidden = true;
    root.dataset.ready = "true";
  }, (error) => {
    status.textContent = `The items' details could not be read: ${error}`;
    root.dataset.ready = "failed";
  });
})();
