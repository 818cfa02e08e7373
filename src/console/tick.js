// Keeps each countdown current. The page works without it; the server's own "now" (data-now)
// is the reference, so a phone whose clock is off still counts right.
(function () {
  var offset = Number(document.body.getAttribute("data-now")) - Date.now();
  function words(ms) {
    var overdue = ms < 0, s = Math.floor(Math.abs(ms) / 1000);
    var h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60);
    var text = h > 0 ? h + "h " + (m < 10 ? "0" : "") + m + "m" : m + "m";
    return (overdue ? "overdue " : "in ") + text;
  }
  function tick() {
    var now = Date.now() + offset;
    document.querySelectorAll("time.due[data-due]").forEach(function (el) {
      var ms = Number(el.getAttribute("data-due")) - now;
      el.textContent = words(ms);
      el.classList.toggle("overdue", ms <= 0);
    });
  }
  if (!isNaN(offset)) {
    setInterval(tick, 15000);
    document.body.setAttribute("data-ticking", "1");
  }
})();
