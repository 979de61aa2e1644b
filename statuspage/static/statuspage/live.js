/* Heliograph: keeps an open status page current, wherever it is served from (the app, nginx,
   a bucket behind a CDN). The page works without it; with it:
   - every 30 s (backing off to 5 min while the tab is hidden) it asks for
     /api/v2/summary.json with If-None-Match, and when the summary changed it loads the page
     again and swaps its content in: no reload needed;
   - it reads /snapshot.json (when the site was last published) the same way, and once that
     is older than the page's stale-after setting it says "This page may be out of date since
     …" (the publisher is gone: the app, beat or the workers).
   An external file, no inline code: the Content-Security-Policy allows scripts from our own
   origin only (docs/security.md). */
(function () {
  "use strict";
  var EVERY = 30000;
  var HIDDEN_MAX = 300000;

  function meta(name) {
    var element = document.querySelector('meta[name="' + name + '"]');
    return element ? element.getAttribute("content") : null;
  }

  var generatedAt = Date.parse(meta("heliograph-generated-at") || "");
  var staleAfter = Number(meta("heliograph-stale-after")) * 1000;
  if (!generatedAt || !staleAfter || !window.fetch || !window.DOMParser) {
    return;
  }
  var delay = EVERY;
  var timer = null;
  var etags = {};
  var bodies = {};
  var summary = null;

  /* A conditional GET: resolves to the new body, or null when the document did not change
     (304, or the same bytes from a host that sends no ETag). */
  function fetchChanged(url) {
    var headers = {};
    if (etags[url]) {
      headers["If-None-Match"] = etags[url];
    }
    return fetch(url, { headers: headers, cache: "no-store", credentials: "omit" }).then(
      function (response) {
        if (response.status === 304) {
          return null;
        }
        if (!response.ok) {
          throw new Error(url + ": " + response.status);
        }
        etags[url] = response.headers.get("ETag");
        return response.text().then(function (text) {
          if (bodies[url] === text) {
            return null;
          }
          bodies[url] = text;
          return text;
        });
      }
    );
  }

  function published(at) {
    if (at && at > generatedAt) {
      generatedAt = at;
    }
  }

  function stamp(epoch) {
    return new Date(epoch).toISOString();
  }

  function when(epoch) {
    var iso = new Date(epoch).toISOString();
    return iso.slice(0, 10) + " " + iso.slice(11, 16) + " UTC";
  }

  /* The notice, unless the server already marked the page stale itself. */
  function notice() {
    var main = document.querySelector("main");
    var shown = document.getElementById("live-stale");
    var stale = Date.now() - generatedAt > staleAfter;
    if (document.querySelector(".stale:not(#live-stale)")) {
      stale = false;
    }
    if (stale && !shown && main) {
      shown = document.createElement("div");
      shown.id = "live-stale";
      shown.className = "stale";
      shown.setAttribute("role", "alert");
      var strong = document.createElement("strong");
      strong.textContent = "This page may be out of date";
      var time = document.createElement("time");
      time.dateTime = stamp(generatedAt);
      time.textContent = when(generatedAt);
      shown.appendChild(strong);
      shown.appendChild(document.createTextNode(" since "));
      shown.appendChild(time);
      shown.appendChild(document.createTextNode(": it could not be refreshed since then."));
      main.insertBefore(shown, main.firstChild);
    } else if (shown && (!stale || shown.querySelector("time").dateTime !== stamp(generatedAt))) {
      shown.remove();
      if (stale) {
        notice();
      }
    }
  }

  /* Load this page again and put its content in place of ours. */
  function refresh() {
    return fetch(location.pathname + location.search, { cache: "no-cache", credentials: "omit" })
      .then(function (response) {
        if (!response.ok) {
          throw new Error("page: " + response.status);
        }
        return response.text();
      })
      .then(function (html) {
        var fresh = new DOMParser().parseFromString(html, "text/html");
        ["main", "footer"].forEach(function (selector) {
          var old = document.querySelector(selector);
          var replacement = fresh.querySelector(selector);
          if (old && replacement) {
            old.replaceWith(document.importNode(replacement, true));
          }
        });
        if (fresh.title) {
          document.title = fresh.title;
        }
        var stamp = fresh.querySelector('meta[name="heliograph-generated-at"]');
        published(stamp ? Date.parse(stamp.getAttribute("content")) : 0);
        document.documentElement.setAttribute("data-live-refreshed", String(Date.now()));
      });
  }

  function check() {
    var snapshot = fetchChanged("/snapshot.json").then(function (text) {
      if (text) {
        var data = JSON.parse(text);
        published(Date.parse(data.generated_at));
        if (data.stale_after) {
          staleAfter = data.stale_after * 1000;
        }
      }
    });
    var content = fetchChanged("/api/v2/summary.json").then(function (text) {
      if (text === null) {
        return null;
      }
      var first = summary === null;
      summary = text;
      return first ? null : refresh();
    });
    return Promise.all([snapshot.catch(function () {}), content.catch(function () {})]).then(
      function () {
        notice();
        var root = document.documentElement;
        root.setAttribute("data-live-checks", String(Number(root.getAttribute("data-live-checks") || 0) + 1));
        schedule();
      }
    );
  }

  function schedule() {
    clearTimeout(timer);
    delay = document.hidden ? Math.min(delay * 2, HIDDEN_MAX) : EVERY;
    timer = setTimeout(check, delay);
  }

  document.addEventListener("visibilitychange", function () {
    if (!document.hidden) {
      clearTimeout(timer);
      delay = EVERY;
      check();
    }
  });
  check();
})();
