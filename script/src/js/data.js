// `$input`, `$('Name')` and `$node["Name"]` for FlowForge expressions, as in
// n8n. Compiled by prelude.js the first time an expression touches one of
// them. `fetch(kind, name)` is a Rust function returning JSON text (or
// undefined), so big data is serialised only when an expression asks for it.
(function (fetch, parse) {
  "use strict";
  const wrap = (list) => list.map((json) => ({ json }));

  function node(name, itemIndex) {
    const raw = fetch("node", String(name));
    if (raw === undefined || raw === null) {
      throw new Error(`node "${name}" has not run in this execution or does not exist`);
    }
    const outputs = parse(raw);
    const output = (index) => outputs[index === undefined ? 0 : index] || [];
    return {
      // `$node["Name"].json`: the first item of the first output.
      get json() {
        const items = output(0);
        if (items.length === 0) throw new Error(`node "${name}" returned no items`);
        return items[0];
      },
      // `$('Name').item`: the item paired with the current one. Without
      // n8n's pairing metadata: the only item, or the one at the same index.
      get item() {
        const items = output(0);
        if (items.length === 1) return { json: items[0] };
        if (itemIndex < items.length) return { json: items[itemIndex] };
        throw new Error(
          `node "${name}" has no item paired with item ${itemIndex} (it returned ${items.length} items)`,
        );
      },
      first(index) {
        const items = output(index);
        return items.length ? { json: items[0] } : undefined;
      },
      last(index) {
        const items = output(index);
        return items.length ? { json: items[items.length - 1] } : undefined;
      },
      all(index) {
        return wrap(output(index));
      },
      isExecuted: true,
    };
  }

  function nodes(itemIndex) {
    return new Proxy(
      {},
      {
        get(_target, name) {
          if (typeof name !== "string" || name === "toJSON" || name === "then") return undefined;
          return node(name, itemIndex);
        },
      },
    );
  }

  function input(json, codeItems) {
    let items;
    const all = () => items || (items = parse(codeItems !== undefined ? codeItems : fetch("input", "")));
    return {
      item: { json },
      all: () => wrap(all()),
      first: () => (all().length ? { json: all()[0] } : undefined),
      last: () => (all().length ? { json: all()[all().length - 1] } : undefined),
    };
  }

  return { node, nodes, input };
})
