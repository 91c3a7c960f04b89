import { router } from "../http/router.ts";

/**
 * The voting page of a study, served by the Worker: image and two captions side by side, keys 1 /
 * 2 / 3 for A / B / tie, reason codes, progress, and the completion code at the end. It is plain
 * HTML and a script of this origin (nothing from a CDN, works offline), and it calls only the
 * public API: a voter signs in with a token (`#token=…` in the link, kept out of server logs), or a
 * crowd participant arrives through an invite link that carries their platform id.
 */
export const votePageRoutes = router();

const POLICY = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join("; ");

const PAGE = `<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8" />
  <meta name="viewport" content="width=device-width, initial-scale=1" />
  <meta name="referrer" content="no-referrer" />
  <title>Caption study</title>
  <link rel="stylesheet" href="/studies/vote.css" />
</head>
<body>
  <main>
    <header><h1 id="question">Which caption is better?</h1><p id="progress" aria-live="polite"></p></header>
    <section id="signin" hidden>
      <p>Paste the voting token you were given.</p>
      <input id="token-input" type="password" autocomplete="off" aria-label="Voting token" />
      <button id="token-go" type="button">Start</button>
    </section>
    <section id="pid" hidden>
      <p>Enter your participant id.</p>
      <input id="pid-input" type="text" autocomplete="off" aria-label="Participant id" />
      <button id="pid-go" type="button">Start</button>
    </section>
    <section id="ballot" hidden>
      <figure><img id="image" alt="The image both captions describe" /></figure>
      <div class="pair">
        <article id="side-A" class="caption"><h2>A <kbd>1</kbd></h2><p id="text-A"></p><fieldset id="reasons-A"><legend>What is wrong with A?</legend></fieldset></article>
        <article id="side-B" class="caption"><h2>B <kbd>2</kbd></h2><p id="text-B"></p><fieldset id="reasons-B"><legend>What is wrong with B?</legend></fieldset></article>
      </div>
      <div class="choices">
        <button id="choose-A" type="button" data-choice="A">A is better <kbd>1</kbd></button>
        <button id="choose-tie" type="button" data-choice="tie">About the same <kbd>3</kbd></button>
        <button id="choose-B" type="button" data-choice="B">B is better <kbd>2</kbd></button>
      </div>
    </section>
    <section id="done" hidden>
      <h2>Thank you: you are done.</h2>
      <p id="completion" hidden>Your completion code: <strong id="completion-code"></strong></p>
    </section>
    <p id="message" role="alert"></p>
  </main>
  <script src="/studies/vote.js"></script>
</body>
</html>`;

const CSS = `*{box-sizing:border-box}body{margin:0;font:16px/1.5 system-ui,sans-serif;color:#1b1b1b;background:#f6f6f4}
main{max-width:1200px;margin:0 auto;padding:1rem}header{display:flex;justify-content:space-between;align-items:baseline;gap:1rem}
h1{font-size:1.3rem;margin:.5rem 0}#progress{color:#555;white-space:nowrap}figure{margin:0 0 1rem;text-align:center}
#image{max-width:100%;max-height:55vh;border-radius:4px;background:#ddd}.pair{display:grid;grid-template-columns:1fr 1fr;gap:1rem}
.caption{background:#fff;border:1px solid #ccc;border-radius:6px;padding:.75rem 1rem}.caption h2{margin:0 0 .25rem;font-size:1.1rem}
.caption p{white-space:pre-wrap;margin:.25rem 0 .75rem}fieldset{border:0;padding:0;margin:0;display:flex;flex-wrap:wrap;gap:.25rem .75rem;font-size:.9rem}
fieldset:empty,fieldset:has(legend:only-child){display:none}legend{font-weight:600;padding:0}
.choices{display:flex;justify-content:center;gap:1rem;margin:1rem 0}.choices button{font-size:1.05rem;padding:.6rem 1.2rem;border-radius:6px;border:1px solid #888;background:#fff;cursor:pointer}
.choices button:hover{background:#eef}kbd{font:12px monospace;border:1px solid #aaa;border-radius:3px;padding:0 .3em;background:#f2f2f2}
#message{color:#a00}@media (max-width:700px){.pair{grid-template-columns:1fr}}`;

const SCRIPT = String.raw`(() => {
  "use strict";
  const $ = (id) => document.getElementById(id);
  const studyId = location.pathname.split("/")[2];
  const params = new URLSearchParams(location.search);
  const hash = new URLSearchParams(location.hash.slice(1));
  const pidParam = params.get("pid_param") || "PROLIFIC_PID";
  const participant = params.get(pidParam) || params.get("participant_id");
  // One stored token per participant: another id opened in the same tab must not vote as the first.
  const storeKey = "groundwork-vote-" + studyId + (params.get("invite") ? "-" + params.get("invite") + "-" + (participant || "") : "");
  let token = hash.get("token") || sessionStorage.getItem(storeKey);
  let ballot = null;
  let activeMs = 0;
  let shownAt = 0;
  let sending = false;

  function show(section) {
    for (const id of ["signin", "pid", "ballot", "done"]) $(id).hidden = id !== section;
  }
  function say(text) { $("message").textContent = text || ""; }

  async function api(method, path, body, headers) {
    const res = await fetch(path, {
      method,
      headers: Object.assign({ "content-type": "application/json" }, token ? { authorization: "Bearer " + token } : {}, headers || {}),
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (res.status === 204) return { status: 204, body: null };
    const data = await res.json().catch(() => null);
    if (!res.ok) {
      const err = new Error((data && (data.detail || data.title)) || "HTTP " + res.status);
      err.status = res.status;
      throw err;
    }
    return { status: res.status, body: data };
  }

  // Active time: only while the page is visible, so a ballot left open in a background tab does not count.
  function resume() { if (ballot && !document.hidden && !shownAt) shownAt = performance.now(); }
  function pause() { if (shownAt) { activeMs += performance.now() - shownAt; shownAt = 0; } }
  document.addEventListener("visibilitychange", () => (document.hidden ? pause() : resume()));

  function reasonsBox(side, codes) {
    const box = $("reasons-" + side);
    box.querySelectorAll("label").forEach((l) => l.remove());
    for (const code of codes) {
      const label = document.createElement("label");
      const input = document.createElement("input");
      input.type = "checkbox";
      input.value = code;
      input.name = "reason-" + side;
      label.append(input, " " + code.replace(/[_-]/g, " "));
      box.append(label);
    }
  }

  function render(b) {
    ballot = b;
    $("question").textContent = b.question;
    $("image").src = b.image.som_url || b.image.url;
    $("text-A").textContent = b.A.text;
    $("text-B").textContent = b.B.text;
    $("choose-tie").hidden = !b.allow_ties;
    reasonsBox("A", b.reasons);
    reasonsBox("B", b.reasons);
    const n = b.progress.votes + 1;
    $("progress").textContent = b.progress.quota ? "Ballot " + n + " of " + b.progress.quota : "Ballot " + n;
    activeMs = 0;
    shownAt = 0;
    show("ballot");
    resume();
  }

  async function finish() {
    ballot = null;
    const me = (await api("GET", "/v1/studies/" + studyId + "/me")).body;
    $("progress").textContent = me.votes + (me.votes === 1 ? " vote" : " votes");
    if (me.completion_code) {
      $("completion-code").textContent = me.completion_code;
      $("completion").hidden = false;
    }
    show("done");
  }

  async function nextBallot() {
    const res = await api("POST", "/v1/studies/" + studyId + "/ballots/next", {});
    if (res.status === 204) return finish();
    render(res.body);
  }

  async function vote(choice) {
    if (!ballot || sending) return;
    if (choice === "tie" && !ballot.allow_ties) return;
    sending = true;
    pause();
    const reasons = {};
    for (const side of ["A", "B"]) {
      const ticked = [...document.querySelectorAll("input[name=reason-" + side + "]:checked")].map((i) => i.value);
      if (ticked.length) reasons[side] = ticked;
    }
    try {
      // The ballot id is the idempotency key: one vote per ballot, so a retried click records nothing twice.
      await api("POST", "/v1/ballots/" + ballot.ballot_id + "/vote",
        { lease_token: ballot.lease_token, choice, reasons, active_ms: Math.round(activeMs) },
        { "idempotency-key": ballot.ballot_id });
      say("");
      await nextBallot();
    } catch (err) {
      say(err.message);
      // The ballot is gone (its lease ran out, or it was voted from another tab): move on to the next.
      if (err.status === 409 || err.status === 404) await nextBallot().catch((e) => say(e.message));
      else resume();
    } finally {
      sending = false;
    }
  }

  for (const id of ["choose-A", "choose-B", "choose-tie"]) $(id).addEventListener("click", (e) => vote(e.currentTarget.dataset.choice));
  document.addEventListener("keydown", (e) => {
    // A held-down key must not vote on the ballots that follow; shortcuts with modifiers are the browser's.
    if (e.repeat || e.ctrlKey || e.metaKey || e.altKey) return;
    if (e.target instanceof HTMLInputElement && e.target.type !== "checkbox") return;
    if (e.key === "1") vote("A");
    else if (e.key === "2") vote("B");
    else if (e.key === "3") vote("tie");
  });

  async function join(participantId) {
    const res = await api("POST", "/v1/studies/" + studyId + "/participants", { invite: params.get("invite"), participant_id: participantId });
    token = res.body.token;
    sessionStorage.setItem(storeKey, token);
  }

  async function start() {
    try {
      if (hash.get("token")) {
        sessionStorage.setItem(storeKey, token);
        history.replaceState(null, "", location.pathname + location.search);
      }
      if (!token && params.get("invite")) {
        const pid = participant;
        if (!pid) {
          show("pid");
          $("pid-go").onclick = () => $("pid-input").value.trim() && join($("pid-input").value.trim()).then(nextBallot).catch((e) => say(e.message));
          return;
        }
        await join(pid);
      }
      if (!token) {
        show("signin");
        $("token-go").onclick = () => {
          token = $("token-input").value.trim();
          sessionStorage.setItem(storeKey, token);
          nextBallot().catch((e) => say(e.message));
        };
        return;
      }
      await nextBallot();
    } catch (err) {
      // An expired or refused token: an invite link can get a fresh one for the same participant.
      if (err.status === 401 && params.get("invite") && participant) {
        sessionStorage.removeItem(storeKey);
        token = null;
        return join(participant).then(nextBallot).catch((e) => say(e.message));
      }
      say(err.message);
    }
  }
  start();
})();
`;

votePageRoutes.get("/studies/:studyId/vote", (c) => c.html(PAGE, 200, { "Content-Security-Policy": POLICY, "Cache-Control": "no-store" }));
votePageRoutes.get("/studies/vote.js", (c) => c.body(SCRIPT, 200, { "Content-Type": "text/javascript; charset=utf-8", "Cache-Control": "public, max-age=300" }));
votePageRoutes.get("/studies/vote.css", (c) => c.body(CSS, 200, { "Content-Type": "text/css; charset=utf-8", "Cache-Control": "public, max-age=300" }));
