import { router } from "../http/router.ts";

/**
 * The interactive API reference at /docs: Swagger UI over /openapi.json. Its script and styles are
 * this Worker's static assets (copied from the swagger-ui-dist package by scripts/docs-assets.ts),
 * so the page works offline, and its policy lets it load and call nothing but this origin.
 */
export const docsRoutes = router();

const UI = "/docs/swagger-ui";

const DOCS_HTML = `<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8" />
  <meta name="viewport" content="width=device-width, initial-scale=1" />
  <title>Groundwork API</title>
  <link rel="stylesheet" href="${UI}/swagger-ui.css" />
  <link rel="icon" type="image/png" href="${UI}/favicon-32x32.png" />
</head>
<body>
  <noscript>The interactive reference needs JavaScript; the raw description is at <a href="/openapi.json">/openapi.json</a>.</noscript>
  <div id="swagger-ui"></div>
  <script src="${UI}/swagger-ui-bundle.js"></script>
  <script src="/docs/init.js"></script>
</body>
</html>`;

// A file of its own rather than an inline script, so the policy needs no 'unsafe-inline' for scripts.
// validatorUrl: null, because Swagger UI otherwise sends the document to an online validator.
const DOCS_INIT_JS = `window.ui = SwaggerUIBundle({
  url: "/openapi.json",
  dom_id: "#swagger-ui",
  deepLinking: true,
  validatorUrl: null,
  presets: [SwaggerUIBundle.presets.apis],
  layout: "BaseLayout",
});
`;

// Swagger UI sets style attributes as it renders, hence 'unsafe-inline' for styles only.
const POLICY = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join("; ");

docsRoutes.get("/docs", (c) => c.html(DOCS_HTML, 200, { "Content-Security-Policy": POLICY }));
docsRoutes.get("/docs/init.js", (c) => c.body(DOCS_INIT_JS, 200, { "Content-Type": "text/javascript; charset=utf-8" }));
