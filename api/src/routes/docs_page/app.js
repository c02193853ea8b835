// The API page: reads the OpenAPI document and renders each operation with
// a form that sends it. Text from the document or from answers is only ever
// set as text, never parsed as HTML.
"use strict";

const METHODS = ["get", "post", "put", "patch", "delete"];

function element(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (name === "text") node.textContent = value;
    else node.setAttribute(name, value);
  }
  for (const child of children) if (child) node.append(child);
  return node;
}

function schemaName(schema) {
  if (!schema) return "";
  if (schema.$ref) return schema.$ref.split("/").pop();
  if (schema.type === "array") return `[${schemaName(schema.items)}]`;
  return schema.type || "object";
}

function credentialsHeaders() {
  const headers = {};
  const token = sessionStorage.getItem("token") || "";
  const workspace = sessionStorage.getItem("workspace") || "";
  if (token) headers["Authorization"] = `Bearer ${token}`;
  if (workspace) headers["X-Workspace-Id"] = workspace;
  return headers;
}

function parameterTable(parameters) {
  if (!parameters.length) return null;
  const table = element("table", {}, element("tr", {},
    element("th", { text: "parameter" }), element("th", { text: "in" }),
    element("th", { text: "type" }), element("th", { text: "description" })));
  for (const p of parameters) {
    table.append(element("tr", {},
      element("td", { text: p.name + (p.required ? " *" : "") }),
      element("td", { text: p.in }),
      element("td", { text: schemaName(p.schema) }),
      element("td", { text: p.description || "" })));
  }
  return table;
}

function responseTable(responses) {
  const table = element("table", {}, element("tr", {},
    element("th", { text: "status" }), element("th", { text: "meaning" })));
  for (const [status, answer] of Object.entries(responses || {})) {
    table.append(element("tr", {},
      element("td", { text: status }), element("td", { text: answer.description || "" })));
  }
  return table;
}

function tryForm(method, path, operation) {
  const form = element("form");
  const inputs = {};
  for (const p of operation.parameters || []) {
    if (p.in !== "path" && p.in !== "query") continue;
    const input = element("input", { placeholder: `${p.name} (${p.in})`, autocomplete: "off" });
    inputs[`${p.in}:${p.name}`] = input;
    form.append(element("label", {}, input), " ");
  }
  const body = operation.requestBody ? element("textarea", { placeholder: "JSON body" }) : null;
  if (body) form.append(body);
  const output = element("pre", { text: "" });
  form.append(element("button", { type: "submit", text: `Send ${method.toUpperCase()}` }), output);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    let url = path;
    const query = new URLSearchParams();
    for (const [key, input] of Object.entries(inputs)) {
      const [place, name] = key.split(":");
      if (place === "path") url = url.replace(`{${name}}`, encodeURIComponent(input.value));
      else if (input.value) query.set(name, input.value);
    }
    if ([...query].length) url += `?${query}`;
    const headers = credentialsHeaders();
    const init = { method: method.toUpperCase(), headers };
    if (body && body.value.trim()) {
      headers["Content-Type"] = "application/json";
      init.body = body.value;
    }
    output.textContent = "…";
    try {
      const response = await fetch(url, init);
      const text = await response.text();
      let shown = text;
      try { shown = JSON.stringify(JSON.parse(text), null, 2); } catch (_) { /* not JSON */ }
      output.textContent = `${response.status} ${response.statusText}\n\n${shown}`;
    } catch (error) {
      output.textContent = String(error);
    }
  });
  return form;
}

function render(doc) {
  const main = document.getElementById("operations");
  main.replaceChildren();
  const filter = (document.getElementById("filter").value || "").toLowerCase();
  const byTag = new Map();
  for (const [path, item] of Object.entries(doc.paths || {})) {
    for (const method of METHODS) {
      const operation = item[method];
      if (!operation) continue;
      const tag = (operation.tags || ["other"])[0];
      const words = `${method} ${path} ${tag} ${operation.summary || ""} ${operation.description || ""}`.toLowerCase();
      if (filter && !words.includes(filter)) continue;
      if (!byTag.has(tag)) byTag.set(tag, []);
      byTag.get(tag).push([method, path, operation]);
    }
  }
  let count = 0;
  for (const [tag, operations] of byTag) {
    main.append(element("h2", { text: tag }));
    for (const [method, path, operation] of operations) {
      count += 1;
      const secured = (operation.security || []).some((s) => Object.keys(s).length > 0);
      const summary = element("summary", {},
        element("span", { class: `method ${method}`, text: method.toUpperCase() }),
        element("span", { text: path }),
        secured ? element("span", { class: "lock", text: "needs a token or key" }) : null);
      const body = operation.requestBody?.content?.["application/json"]?.schema;
      const detail = element("div", { class: "operation" },
        element("p", { text: operation.description || operation.summary || "" }),
        parameterTable(operation.parameters || []),
        body ? element("p", { text: `Body: ${schemaName(body)}` }) : null,
        responseTable(operation.responses),
        tryForm(method, path, operation));
      main.append(element("details", {}, summary, detail));
    }
  }
  document.getElementById("summary").textContent =
    `${doc.info?.title || "API"} ${doc.info?.version || ""}: ${count} operations`;
}

async function start() {
  for (const id of ["token", "workspace"]) {
    const input = document.getElementById(id);
    input.value = sessionStorage.getItem(id) || "";
    input.addEventListener("input", () => sessionStorage.setItem(id, input.value.trim()));
  }
  const response = await fetch("/api/v1/openapi.json");
  const doc = await response.json();
  render(doc);
  document.getElementById("filter").addEventListener("input", () => render(doc));
}

start().catch((error) => {
  document.getElementById("summary").textContent = `Cannot read the API document: ${error}`;
});
