// Suitescope's page behaviour: lazy Plotly charts, and re-scanning after htmx swaps.
// No inline script anywhere (the Content-Security-Policy forbids it).
(function () {
  "use strict";

  let plotlyLoading = null;

  function loadPlotly() {
    if (window.Plotly) return Promise.resolve(window.Plotly);
    if (!plotlyLoading) {
      plotlyLoading = new Promise(function (resolve, reject) {
        const script = document.createElement("script");
        script.src = document.body.dataset.plotlySrc;
        script.onload = function () { resolve(window.Plotly); };
        script.onerror = function () { reject(new Error("plotly.js failed to load")); };
        document.head.appendChild(script);
      });
    }
    return plotlyLoading;
  }

  function showChartError(figureEl, message) {
    const body = figureEl.querySelector(".chart-body");
    body.textContent = message;
    figureEl.classList.add("chart-error");
  }

  function drawChart(figureEl) {
    if (figureEl.dataset.state) return;
    figureEl.dataset.state = "loading";
    const src = figureEl.dataset.chartSrc;
    Promise.all([fetch(src, { headers: { Accept: "application/json" } }), loadPlotly()])
      .then(function (results) {
        const response = results[0];
        if (!response.ok) throw new Error("chart data: HTTP " + response.status);
        return response.json().then(function (fig) { return [fig, results[1]]; });
      })
      .then(function (pair) {
        const fig = pair[0];
        const Plotly = pair[1];
        const body = figureEl.querySelector(".chart-body");
        body.textContent = "";
        return Plotly.newPlot(body, fig.data, fig.layout, {
          responsive: true, displaylogo: false, modeBarButtonsToRemove: ["lasso2d", "select2d"],
        });
      })
      .then(function () { figureEl.dataset.state = "drawn"; })
      .catch(function (error) { showChartError(figureEl, "This chart could not be drawn: " + error.message); });
  }

  const observer = "IntersectionObserver" in window
    ? new IntersectionObserver(function (entries) {
        entries.forEach(function (entry) {
          if (entry.isIntersecting) {
            observer.unobserve(entry.target);
            drawChart(entry.target);
          }
        });
      }, { rootMargin: "200px" })
    : null;

  function scan(root) {
    root.querySelectorAll("figure[data-chart-src]").forEach(function (el) {
      if (el.dataset.state) return;
      if (observer) observer.observe(el); else drawChart(el);
    });
  }

  document.addEventListener("DOMContentLoaded", function () { scan(document); });
  document.addEventListener("htmx:load", function (event) { scan(event.target); });

  // Selects in a filter form submit themselves; the form still works without JS.
  document.addEventListener("change", function (event) {
    const form = event.target.closest("form[data-autosubmit]");
    if (form && !window.htmx) form.requestSubmit();
  });
})();
