// Keel console: draws DAGs (laid out by dagre), recolours them from live run states, small UI helpers.
"use strict";
(function () {
  const SVG = "http://www.w3.org/2000/svg";
  const ICONS = { queued: "◷", pending: "◷", running: "▶", succeeded: "✔", failed: "✖", skipped: "⤼", cancelled: "⊘", unknown: "?" };

  function el(name, attrs, parent) {
    const node = document.createElementNS(SVG, name);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
    if (parent) parent.appendChild(node);
    return node;
  }

  function clip(text, n) { return text.length > n ? text.slice(0, n - 1) + "…" : text; }

  function drawDag(figure) {
    const data = JSON.parse(figure.querySelector(".dag-data").textContent);
    const canvas = figure.querySelector(".dag-canvas");
    const g = new dagre.graphlib.Graph({ multigraph: true });
    g.setGraph({ rankdir: "TB", nodesep: 28, ranksep: 46, marginx: 12, marginy: 12 });
    g.setDefaultEdgeLabel(() => ({}));
    for (const n of data.nodes) g.setNode(n.ref, { width: 200, height: 66, data: n });
    data.edges.forEach((e, i) => g.setEdge(e.source, e.target, { label: e.label, width: e.label.length * 6, height: 14, data: e }, "e" + i));
    dagre.layout(g);
    const size = g.graph();
    const svg = el("svg", { width: size.width, height: size.height, viewBox: `0 0 ${size.width} ${size.height}` });
    const defs = el("defs", {}, svg);
    const marker = el("marker", { id: "arrow", viewBox: "0 0 10 10", refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: "auto-start-reverse" }, defs);
    el("path", { d: "M 0 0 L 10 5 L 0 10 z", fill: "#64748b" }, marker);
    for (const id of g.edges()) {
      const edge = g.edge(id);
      const group = el("g", { class: `edge ${edge.data.kind}` }, svg);
      const d = edge.points.map((p, i) => `${i ? "L" : "M"} ${p.x} ${p.y}`).join(" ");
      el("path", { d, "marker-end": "url(#arrow)" }, group);
      const label = el("text", { x: edge.x, y: edge.y + 4, "text-anchor": "middle" }, group);
      label.textContent = edge.label;
      if (edge.data.condition) { const t = el("title", {}, group); t.textContent = "run_if: " + edge.data.condition; }
    }
    for (const ref of g.nodes()) {
      const node = g.node(ref);
      const group = el("g", { class: "node n-none", "data-ref": ref, transform: `translate(${node.x - node.width / 2}, ${node.y - node.height / 2})` }, svg);
      el("rect", { width: node.width, height: node.height, rx: 7 }, group);
      const title = el("text", { x: 10, y: 20 }, group);
      title.textContent = clip(ref, 20) + (node.data.for_each ? " ⟳ for_each" : "");
      const sub = el("text", { x: 10, y: 36, class: "sub" }, group);
      sub.textContent = clip(node.data.action, 30);
      const status = el("text", { x: 10, y: 55, class: "status" }, group);
      status.textContent = "";
      const tip = el("title", {}, group);
      tip.textContent = `${ref}: ${node.data.action}` + (node.data.run_if ? `\nrun_if: ${node.data.run_if}` : "");
    }
    canvas.replaceChildren(svg);
    const states = figure.querySelector(".dag-states");
    if (states) colour(figure, JSON.parse(states.textContent));
  }

  function colour(figure, states) {
    for (const group of figure.querySelectorAll("g.node")) {
      const state = states.actions[group.dataset.ref];
      if (!state) continue;
      group.setAttribute("class", `node n-${state.status}`);
      group.dataset.status = state.status;
      const attempts = state.attempts > 1 ? ` ×${state.attempts}` : "";
      group.querySelector(".status").textContent = `${ICONS[state.status] || "•"} ${state.status}${attempts}`;
    }
  }

  function init(root) {
    for (const figure of root.querySelectorAll("[data-dag]")) {
      if (!figure.dataset.drawn) { figure.dataset.drawn = "1"; drawDag(figure); }
    }
  }

  document.addEventListener("DOMContentLoaded", () => init(document));
  let open = [];
  document.addEventListener("htmx:beforeSwap", () => {
    open = Array.from(document.querySelectorAll("details.panel[open]")).map((d) => d.id);
  });
  document.addEventListener("htmx:afterSwap", (event) => {
    for (const id of open) { const d = document.getElementById(id); if (d) d.open = true; }
    const live = document.querySelector(".run-states");
    const figure = document.querySelector("[data-dag]");
    if (live && figure) colour(figure, JSON.parse(live.textContent));
    // While a run runs (and once more when it ends), its items follow it, keeping the filter.
    if (event.detail.target && event.detail.target.id === "run-live") {
      for (const view of document.querySelectorAll(".items-view[data-url]")) {
        htmx.ajax("GET", view.dataset.url, { target: view.closest(".items-body"), swap: "innerHTML" });
      }
    }
    init(document);
  });
  document.addEventListener("click", (event) => {
    const copy = event.target.closest("[data-copy]");
    if (copy) {
      const input = copy.parentElement.querySelector("input");
      navigator.clipboard.writeText(input.value).then(() => { copy.textContent = "Copied"; }, () => { input.select(); });
    }
    const confirmButton = event.target.closest("[data-confirm]");
    if (confirmButton && !window.confirm(confirmButton.dataset.confirm)) event.preventDefault();
  });
})();
