// Keeps the outreach panel of /staff up to date: fetches it again every few seconds and puts
// it in place when it changed. Open step lists stay open.
(function () {
  "use strict";
  var panel = document.getElementById("outreaches");
  if (!panel) { return; }
  var every = Number(panel.getAttribute("data-refresh")) * 1000 || 3000;
  var last = null;

  function openOnes() {
    var open = [];
    panel.querySelectorAll("li.outreach details[open]").forEach(function (details) {
      open.push(details.closest("li.outreach").id);
    });
    return open;
  }

  function refresh() {
    fetch(panel.getAttribute("data-url"), { credentials: "same-origin", cache: "no-store" })
      .then(function (response) { return response.ok ? response.text() : null; })
      .then(function (html) {
        if (html !== null && html !== last) {
          var open = openOnes();
          last = html;
          panel.innerHTML = html;
          open.forEach(function (id) {
            var details = document.querySelector("#" + CSS.escape(id) + " details");
            if (details) { details.open = true; }
          });
          panel.setAttribute("data-updated", new Date().toISOString());
        }
      })
      .catch(function () { /* the next look tries again */ })
      .then(function () { window.setTimeout(refresh, every); });
  }

  window.setTimeout(refresh, every);
}());
