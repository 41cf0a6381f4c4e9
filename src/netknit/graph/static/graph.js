// netknit's lab page: the graph data (containerlab's nodes and links, with netknit's
// states) drawn as SVG with d3. Every node is a <g data-node="NAME"> whose text is its
// name, every link a <g data-link="a:eth1--b:eth1" data-state="up|down|...">, so what the
// page shows can be read from the DOM. Served by `netknit graph`, the page follows the
// lab through server-sent events (/events); written by `--offline`, it is a snapshot.
// page#node=NAME opens with that node's details shown.
(function () {
  "use strict";

  const LEGEND = ["up", "down", "drifted", "repairing", "stopped"];
  const NODE_H = 34;
  const GROUP_GAP = 280; // between the columns of two groups

  let data = window.NETKNIT_GRAPH;
  let selected = null; // the name of the node whose details are shown
  const pos = new Map(); // node name -> {x, y}

  const svg = d3.select("#graph");
  const view = svg.append("g");
  const layers = {
    groups: view.append("g").attr("class", "groups"),
    links: view.append("g").attr("class", "links"),
    nodes: view.append("g").attr("class", "nodes"),
  };
  const zoom = d3.zoom().scaleExtent([0.1, 4])
    .on("zoom", (event) => view.attr("transform", event.transform));
  svg.call(zoom).on("dblclick.zoom", null);
  svg.on("click", (event) => {
    if (event.target === svg.node()) select(null);
  });

  const stateClass = (s) => "state-" + (s === "N/A" ? "na" : s);
  // inspect's node states in the colours of the links': running, down, stopped...
  const nodeState = (s) => {
    const word = String(s).split(" ")[0];
    if (word === "running" || word === "host") return "up";
    if (word === "stopped" || word === "parked") return "stopped";
    if (word === "N/A") return "N/A";
    return "down"; // missing, exited, dead...
  };
  const linkId = (l) => `${l.source}:${l.source_endpoint}--${l.target}:${l.target_endpoint}`;
  const shape = (d) => JSON.stringify([d.nodes.map((n) => n.name), d.links.map(linkId)]);
  const nodeWidth = (n) => Math.max(64, n.name.length * 8.5 + 28);

  // Places the nodes: graph-posX/graph-posY where the topology gives them; the others by
  // a force layout, pulled to a column per group. It runs to rest before anything is
  // drawn (no animation), from the positions already known: an update keeps the picture.
  function layout() {
    const groups = [...new Set(data.nodes.map((n) => n.graph_group))];
    const names = new Set(data.nodes.map((n) => n.name));
    const nodes = data.nodes.map((n) => {
      const o = { id: n.name, group: n.graph_group, w: nodeWidth(n) };
      const known = pos.get(n.name);
      if (n.x != null && n.y != null) {
        o.fx = n.x;
        o.fy = n.y;
      } else if (known) {
        o.x = known.x;
        o.y = known.y;
      }
      return o;
    });
    const links = data.links
      .filter((l) => names.has(l.source) && names.has(l.target))
      .map((l) => ({ source: l.source, target: l.target }));
    const sim = d3.forceSimulation(nodes)
      .force("link", d3.forceLink(links).id((n) => n.id).distance(150).strength(0.4))
      .force("charge", d3.forceManyBody().strength(-600))
      .force("collide", d3.forceCollide((n) => n.w / 2 + 24))
      .force("x", d3.forceX((n) => groups.indexOf(n.group) * GROUP_GAP).strength(0.35))
      .force("y", d3.forceY(0).strength(0.06))
      .stop();
    sim.tick(400);
    pos.clear();
    nodes.forEach((n) => pos.set(n.id, { x: n.x, y: n.y }));
  }

  function fit() {
    const box = view.node().getBBox();
    // the part of the page that the details panel leaves free
    const panel = document.getElementById("details");
    const width = (svg.node().clientWidth || 800) - (panel.hidden ? 0 : panel.offsetWidth);
    const height = svg.node().clientHeight || 600;
    if (!box.width || !box.height) return;
    const scale = Math.min(2, 0.9 * Math.min(width / box.width, height / box.height));
    const tx = width / 2 - scale * (box.x + box.width / 2);
    const ty = height / 2 - scale * (box.y + box.height / 2);
    svg.call(zoom.transform, d3.zoomIdentity.translate(tx, ty).scale(scale));
  }

  // A link's curve: parallel links between two nodes bend apart, the first straight.
  function geometry(links) {
    const seen = new Map();
    const out = new Map();
    const byName = new Map(data.nodes.map((n) => [n.name, n]));
    for (const l of links) {
      const pair = [l.source, l.target].sort().join("\u0000");
      const list = seen.get(pair) || [];
      list.push(l);
      seen.set(pair, list);
    }
    for (const list of seen.values()) {
      list.forEach((l, i) => {
        const a = pos.get(l.source);
        const b = pos.get(l.target);
        if (!a || !b) return;
        // the normal of the sorted pair, so that a->b and b->a bend the same way
        const [p, q] = l.source <= l.target ? [a, b] : [b, a];
        const dx = q.x - p.x;
        const dy = q.y - p.y;
        const len = Math.hypot(dx, dy) || 1;
        const bend = (i - (list.length - 1) / 2) * 56;
        const c = { x: (a.x + b.x) / 2 - (dy / len) * bend, y: (a.y + b.y) / 2 + (dx / len) * bend };
        const at = (t) => ({
          x: (1 - t) * (1 - t) * a.x + 2 * (1 - t) * t * c.x + t * t * b.x,
          y: (1 - t) * (1 - t) * a.y + 2 * (1 - t) * t * c.y + t * t * b.y,
        });
        // each interface name just outside its node's box, along the curve's tangent there
        const away = (from, node, name) => {
          const ux = (c.x - from.x) || 1e-9;
          const uy = (c.y - from.y) || 1e-9;
          const ulen = Math.hypot(ux, uy);
          const edge = Math.min((nodeWidth(node) / 2) / Math.abs(ux / ulen), (NODE_H / 2) / Math.abs(uy / ulen));
          return Math.min(0.45, (edge + name.length * 3.6 + 8) / len);
        };
        const ts = away(a, byName.get(l.source), l.source_endpoint);
        const tt = away(b, byName.get(l.target), l.target_endpoint);
        out.set(linkId(l), { d: `M${a.x},${a.y} Q${c.x},${c.y} ${b.x},${b.y}`, src: at(ts), dst: at(1 - tt) });
      });
    }
    return out;
  }

  function draw() {
    // a box behind each group, with its name
    const boxes = [];
    for (const [group, members] of d3.group(data.nodes, (n) => n.graph_group)) {
      const xs = [];
      const ys = [];
      for (const n of members) {
        const p = pos.get(n.name);
        if (!p) continue;
        xs.push(p.x - nodeWidth(n) / 2, p.x + nodeWidth(n) / 2);
        ys.push(p.y - NODE_H / 2, p.y + NODE_H / 2);
      }
      if (xs.length) boxes.push({ group, x0: d3.min(xs) - 18, x1: d3.max(xs) + 18, y0: d3.min(ys) - 34, y1: d3.max(ys) + 18 });
    }
    layers.groups.selectAll("g.group-box").data(boxes, (b) => b.group)
      .join((enter) => {
        const g = enter.append("g").attr("class", "group-box");
        g.append("rect");
        g.append("text");
        return g;
      })
      .attr("data-group", (b) => b.group)
      .each(function (b) {
        const g = d3.select(this);
        g.select("rect").attr("x", b.x0).attr("y", b.y0).attr("width", b.x1 - b.x0).attr("height", b.y1 - b.y0);
        g.select("text").attr("x", b.x0 + 10).attr("y", b.y0 + 16).text(b.group);
      });

    const geo = geometry(data.links);
    layers.links.selectAll("g.link").data(data.links, linkId)
      .join((enter) => {
        const g = enter.append("g");
        g.append("path");
        g.append("text").attr("class", "endpoint source");
        g.append("text").attr("class", "endpoint target");
        g.append("title");
        return g;
      })
      .attr("class", (l) => "link " + stateClass(l.state))
      .attr("data-link", linkId)
      .attr("data-state", (l) => l.state)
      .each(function (l) {
        const g = d3.select(this);
        const shapeOf = geo.get(linkId(l));
        if (!shapeOf) return;
        g.select("path").attr("d", shapeOf.d);
        g.select("text.source").attr("x", shapeOf.src.x).attr("y", shapeOf.src.y).text(l.source_endpoint);
        g.select("text.target").attr("x", shapeOf.dst.x).attr("y", shapeOf.dst.y).text(l.target_endpoint);
        const drift = l.drift && l.drift.length ? "\n" + l.drift.join("\n") : "";
        g.select("title").text(`${linkId(l)}: ${l.state}${drift}`);
      });

    layers.nodes.selectAll("g.node").data(data.nodes, (n) => n.name)
      .join((enter) => {
        const g = enter.append("g");
        g.append("rect");
        g.append("text").attr("class", "name"); // its only text: the node's name
        g.on("click", (event, n) => {
          event.stopPropagation();
          select(n.name);
        });
        g.call(d3.drag()
          .on("drag", (event, n) => {
            pos.set(n.name, { x: event.x, y: event.y });
            draw();
          }));
        return g;
      })
      .attr("class", (n) => "node " + stateClass(nodeState(n.state)) + (n.name === selected ? " selected" : ""))
      .attr("data-node", (n) => n.name)
      .attr("data-state", (n) => n.state)
      .attr("transform", (n) => {
        const p = pos.get(n.name) || { x: 0, y: 0 };
        return `translate(${p.x},${p.y})`;
      })
      .each(function (n) {
        const g = d3.select(this);
        const w = nodeWidth(n);
        g.select("rect").attr("x", -w / 2).attr("y", -NODE_H / 2).attr("width", w).attr("height", NODE_H);
        g.select("text.name").text(n.name);
      });
  }

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
    for (const child of children) node.append(child instanceof Node ? child : String(child));
    return node;
  }

  function lines(items) {
    const td = el("td", { class: "wrap" });
    (items || []).forEach((item, i) => {
      if (i) td.append(el("br"));
      td.append(String(item));
    });
    return td;
  }

  function select(name) {
    selected = name;
    draw();
    details();
  }

  // The selected node: its facts and every interface of its namespace (inspect's view).
  function details() {
    const aside = document.getElementById("details");
    const n = selected && data.nodes.find((m) => m.name === selected);
    if (!n) {
      aside.hidden = true;
      aside.replaceChildren();
      return;
    }
    const close = el("button", { class: "close", title: "close" }, "\u00d7");
    close.addEventListener("click", () => select(null));
    const facts = el("table", { class: "facts" });
    const rows = [
      ["kind", n.kind], ["image", n.image], ["group", n.group], ["state", n.state],
      ["status", n.status], ["container", n.container], ["mgmt IPv4", n.ipv4_address],
      ["mgmt IPv6", n.ipv6_address], ["drift", (n.drift || []).join(", ")],
    ];
    for (const [k, v] of rows) if (v) facts.append(el("tr", { "data-fact": k }, el("th", {}, k), el("td", {}, v)));
    const ifaces = el("table", { class: "interfaces" },
      el("tr", {}, ...["interface", "MAC", "MTU", "state", "addresses", "drift"].map((h) => el("th", {}, h))));
    for (const i of n.interfaces || []) {
      ifaces.append(el("tr", { "data-iface": i.name, "data-state": i.state },
        el("td", {}, i.name), el("td", {}, i.mac || ""), el("td", {}, i.mtu || ""),
        el("td", { class: stateClass(i.state) }, i.state), lines(i.addresses), lines(i.drift)));
    }
    aside.replaceChildren(close, el("h2", {}, n.name), facts, el("h3", {}, "interfaces"), ifaces);
    aside.dataset.node = n.name;
    aside.hidden = false;
  }

  function update(next) {
    const reshaped = shape(next) !== shape(data);
    data = next;
    if (reshaped) layout();
    draw();
    details();
    status();
  }

  const connection = document.getElementById("connection");
  function status(live) {
    if (live !== undefined) connection.dataset.state = live;
    const words = { live: "live", lost: "connection lost, retrying", offline: "" };
    const what = !data.live ? "from the topology file" : data.error ? "stale: " + data.error
      : !data.deployed ? "not deployed" : "";
    connection.textContent = [words[connection.dataset.state], what].filter(Boolean).join(" · ");
    connection.title = data.error || "";
  }

  const legend = document.getElementById("legend");
  for (const s of LEGEND) legend.append(el("li", { class: stateClass(s) }, s));

  layout();
  draw();
  fit();
  status("offline");
  // a link to a node's details: page#node=NAME
  const linked = /^#node=(.+)$/.exec(location.hash);
  if (linked) {
    select(decodeURIComponent(linked[1]));
    fit();
  }
  if (data.live && location.protocol.startsWith("http")) {
    const events = new EventSource("events");
    events.onopen = () => status("live");
    events.onmessage = (event) => update(JSON.parse(event.data));
    events.onerror = () => status("lost"); // EventSource reconnects by itself
  }
  window.netknitGraph = { data: () => data, select };
})();
