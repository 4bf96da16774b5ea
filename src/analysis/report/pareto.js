/* The accuracy/size Pareto front of a search's configurations, drawn
 * after page.js into its "Bit-width search" section. Embedded only in the
 * reports of search documents whose trace marks the front ("pareto"), so
 * the pages of other documents stay as they were. */
(function () {
  'use strict';
  var body = document.body;
  if (body.dataset.ready !== '1' || typeof Chart === 'undefined') return;
  var doc = JSON.parse(document.getElementById('tq-report-data').textContent);
  var se = doc.search || {};
  var trace = Array.isArray(se.trace) ? se.trace.filter(function (t) {
    return t && typeof t.total_bits === 'number' && typeof t.top1 === 'number';
  }) : [];
  if (!trace.length) return;
  var sections = document.querySelectorAll('section');
  var sec = null;
  for (var i = 0; i < sections.length; i++) {
    var h = sections[i].querySelector('h2');
    if (h && h.textContent === 'Bit-width search') sec = sections[i];
  }
  if (!sec) return;
  function pt(t) { return {x: t.total_bits, y: 100 * t.top1, step: t.step}; }
  var front = trace.filter(function (t) { return t.pareto === true; }).map(pt)
    .sort(function (a, b) { return a.x - b.x; });
  var others = trace.filter(function (t) { return t.pareto !== true; }).map(pt);
  var box = document.createElement('div');
  box.className = 'chart';
  var canvas = document.createElement('canvas');
  canvas.setAttribute('role', 'img');
  canvas.setAttribute('aria-label', 'Pareto front');
  box.appendChild(canvas);
  var h3 = sec.querySelector('h3');
  sec.insertBefore(box, h3 || null);
  new Chart(canvas, {
    type: 'scatter',
    data: {datasets: [
      {label: 'Pareto front', data: front, showLine: true, borderColor: '#16a34a',
        backgroundColor: '#16a34a', pointRadius: 5},
      {label: 'dominated', data: others, borderColor: '#9ca3af',
        backgroundColor: '#9ca3af', pointRadius: 4}]},
    options: {animation: false, responsive: true, maintainAspectRatio: false, parsing: false,
      plugins: {title: {display: true, text: 'Accuracy against size: the configurations tried' +
        (se.family === 'formats' ? ' (formats)' : ''), font: {size: 14}},
        tooltip: {callbacks: {afterLabel: function (c) {
          return c.raw && c.raw.step !== undefined ? 'step ' + c.raw.step : ''; }}}},
      scales: {x: {type: 'linear', title: {display: true, text: 'total bits'}},
        y: {title: {display: true, text: 'top-1 (%)'}}}}
  });
  body.dataset.charts = String(Number(body.dataset.charts || 0) + 1);
})();
