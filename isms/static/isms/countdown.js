// Countdowns to incident deadlines: any element with data-due (ISO time) shows
// "剩 1 小時 05 分" or "逾期 12 分" (in the page's language), refreshed every 30 seconds.
(function () {
  const zh = document.documentElement.lang !== "en";
  function text(ms) {
    const late = ms < 0;
    let minutes = Math.floor(Math.abs(ms) / 60000);
    const days = Math.floor(minutes / 1440);
    minutes -= days * 1440;
    const hours = Math.floor(minutes / 60);
    minutes -= hours * 60;
    let span;
    if (zh) {
      span = (days ? days + " 天 " : "") + (days || hours ? hours + " 小時 " : "") + minutes + " 分";
      return late ? "逾期 " + span : "剩 " + span;
    }
    span = (days ? days + " d " : "") + (days || hours ? hours + " h " : "") + minutes + " min";
    return late ? span + " overdue" : span + " left";
  }
  function tick() {
    const now = Date.now();
    document.querySelectorAll("[data-due]").forEach(function (el) {
      const ms = Date.parse(el.dataset.due) - now;
      el.textContent = text(ms);
      el.classList.toggle("text-danger", ms < 0);
    });
  }
  tick();
  setInterval(tick, 30000);
})();
