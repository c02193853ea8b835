// FlowForge's JavaScript prelude, evaluated once per QuickJS context. It
// returns the entry points the Rust side calls and keeps them out of reach of
// user code. QuickJS compiles at roughly 30 KB/ms, so this part stays small;
// `$input`, `$` and `$node` live in data.js, compiled only when touched.
(function (g, fetch, metaText, dataSource) {
  "use strict";
  const parse = JSON.parse;
  const stringify = JSON.stringify;
  const indirectEval = eval;
  const define = Object.defineProperty;
  let data;
  const lib = () => data || (data = indirectEval(dataSource)(fetch, parse));

  const envText = parse(metaText).env;
  define(g, "$env", {
    get() {
      if (envText === null) throw new Error("access to $env is disabled");
      return Object.freeze(Object.assign({}, envText));
    },
  });

  // Defines `name` on the global object as `make()`, computed on first read.
  function lazy(name, make) {
    define(g, name, {
      configurable: true,
      get() {
        const value = make();
        define(g, name, { configurable: true, writable: true, value });
        return value;
      },
    });
  }

  // Every expression starts from fresh copies, so one expression mutating
  // `$json` (say with `.sort()`) does not leak into the next one.
  function reset(codeItems) {
    const m = parse(metaText);
    g.$json = m.json;
    g.$itemIndex = m.itemIndex;
    g.$execution = {
      id: m.executionId === null ? undefined : m.executionId,
      resumeUrl: m.resumeUrl === null ? undefined : m.resumeUrl,
    };
    g.$workflow = { id: m.workflowId === null ? undefined : m.workflowId };
    g.$vars = m.vars;
    g.$ = (name) => lib().node(name, m.itemIndex);
    lazy("$node", () => lib().nodes(m.itemIndex));
    lazy("$input", () => lib().input(m.json, codeItems));
    for (const [name, ms] of [["$now", m.nowMs], ["$today", m.todayMs]]) {
      lazy(name, () => {
        if (ms === null) throw new Error(`${name} is not available: no current time was supplied`);
        return new Date(ms);
      });
    }
  }

  // How a value reads inside text: strings as they are, dates as ISO 8601,
  // objects and arrays as JSON, null and undefined as nothing.
  function asText(value) {
    if (value === undefined || value === null) return "";
    if (typeof value === "string") return value;
    if (value instanceof Date) return isNaN(value.getTime()) ? "Invalid Date" : value.toISOString();
    if (typeof value === "object") return stringify(value);
    return String(value);
  }

  function asJson(value) {
    const text = stringify(value === undefined ? null : value);
    return text === undefined ? "null" : text;
  }

  // An expression is usually a JavaScript expression; if it does not parse as
  // one it runs as statements and its completion value is the result, so
  // `{{ if (a) { 1 } else { 2 } }}` works and `{{ while (true) {} }}` times out.
  function evaluate(source, text) {
    reset(undefined);
    let compiled = null;
    try {
      compiled = new Function("return (" + source + "\n);");
    } catch (error) {
      if (!(error instanceof SyntaxError)) throw error;
    }
    // The block keeps `let`/`const` of one expression from clashing with the next.
    const value = compiled !== null ? compiled() : indirectEval("{" + source + "\n}");
    return text ? asText(value) : asJson(value);
  }

  // The Code node: the script is the body of an async function over `items`,
  // as in n8n, so it may `await` and may return a promise. Rust drives the job
  // queue until this settles to the script's return value as JSON text, or
  // undefined when it returned nothing.
  async function runCode(source, itemsText) {
    reset(itemsText);
    const AsyncFunction = Object.getPrototypeOf(runCode).constructor;
    const code = new AsyncFunction("items", source);
    const result = await code(parse(itemsText).map((json) => ({ json })));
    return result === undefined ? undefined : asJson(result);
  }

  return { evaluate, runCode };
})
