(function () {
  'use strict';
  var body = document.body;
  var app = document.getElementById('app');
  var nCharts = 0;
  var PALETTE = ['#2563eb', '#dc2626', '#16a34a', '#9333ea', '#ea580c',
    '#0891b2', '#ca8a04', '#db2777', '#4b5563', '#65a30d'];
  var DASH = '\u2013';

  function color(i) { return PALETTE[i % PALETTE.length]; }
  function isNum(x) { return typeof x === 'number' && isFinite(x); }
  function has(o, k) { return o !== null && typeof o === 'object' && Object.prototype.hasOwnProperty.call(o, k); }
  function str(x) { return x === undefined || x === null ? '' : String(x); }

  function el(tag, attrs, kids) {
    var e = document.createElement(tag);
    if (attrs) Object.keys(attrs).forEach(function (k) {
      if (k === 'text') e.textContent = attrs[k];
      else if (k === 'class') e.className = attrs[k];
      else e.setAttribute(k, attrs[k]);
    });
    (kids || []).forEach(function (c) {
      if (c !== null && c !== undefined) e.appendChild(typeof c === 'string' ? document.createTextNode(c) : c);
    });
    return e;
  }

  /* Number formats: accuracies are fractions shown as percent. */
  function pct(x) { return isNum(x) ? (100 * x).toFixed(2) + ' %' : DASH; }
  function pp(x) { return isNum(x) ? (x > 0 ? '+' : '') + x.toFixed(2) + ' pp' : DASH; }
  function fixed(x, d) { return isNum(x) ? x.toFixed(d) : DASH; }
  function int(x) { return isNum(x) ? Math.round(x).toLocaleString('en-US') : DASH; }
  function sig(x) {
    if (!isNum(x)) return DASH;
    if (x === 0) return '0';
    var a = Math.abs(x);
    return (a >= 1e5 || a < 1e-3) ? x.toExponential(3) : String(Number(x.toPrecision(4)));
  }
  function sqnr(x, row, key) { return isNum(x) ? x.toFixed(1) + ' dB' : (has(row, key) && x === null ? '\u221e' : DASH); }

  /* A table whose columns sort when their heading is clicked.
   * cols: [{label, get(row) -> sort key, show(row) -> text, num}] */
  function table(cols, rows) {
    var tbody = el('tbody');
    var ths = cols.map(function (c) { return el('th', {text: c.label, class: c.num ? 'num' : ''}); });
    var order = rows.slice();
    function fill() {
      tbody.textContent = '';
      order.forEach(function (r) {
        tbody.appendChild(el('tr', null, cols.map(function (c) {
          var td = el('td', {text: c.show(r), class: c.num ? 'num' : ''});
          if (c.cls) { var k = c.cls(r); if (k) td.className += ' ' + k; }
          return td;
        })));
      });
    }
    var sortedBy = -1, dir = 1;
    ths.forEach(function (th, i) {
      th.addEventListener('click', function () {
        dir = sortedBy === i ? -dir : 1;
        sortedBy = i;
        var get = cols[i].get;
        order = rows.slice().sort(function (a, b) {
          var x = get(a), y = get(b);
          var nx = x === null || x === undefined, ny = y === null || y === undefined;
          if (nx || ny) return nx === ny ? 0 : nx ? 1 : -1; /* blanks last */
          if (typeof x === 'number' && typeof y === 'number') return dir * (x - y);
          return dir * String(x).localeCompare(String(y), undefined, {numeric: true});
        });
        ths.forEach(function (t) { t.classList.remove('sorted-asc', 'sorted-desc'); });
        th.classList.add(dir > 0 ? 'sorted-asc' : 'sorted-desc');
        fill();
      });
    });
    fill();
    return el('div', {class: 'table-wrap'}, [el('table', null, [el('thead', null, [el('tr', null, ths)]), tbody])]);
  }
  function col(label, key, show, num, cls) {
    return {label: label, num: !!num, cls: cls,
      get: typeof key === 'function' ? key : function (r) { return r[key]; },
      show: show};
  }
  /* The accuracy change and SQNR columns the results and sensitivity
   * tables share (a null SQNR is infinite: identical outputs). */
  function deltaCol() {
    return col('\u0394 top-1', 'delta_top1', function (r) { return pp(r.delta_top1); }, true,
      function (r) { return isNum(r.delta_top1) && r.delta_top1 < 0 ? 'bad' : ''; });
  }
  function sqnrCol() {
    return col('SQNR', function (r) { return isNum(r.sqnr_db) ? r.sqnr_db : (r.sqnr_db === null ? Infinity : null); },
      function (r) { return sqnr(r.sqnr_db, r, 'sqnr_db'); }, true);
  }

  /* A Chart.js chart in its own sized box inside parent. */
  function chart(parent, config, height) {
    var box = el('div', {class: 'chart'});
    if (height) box.style.height = height + 'px';
    var canvas = el('canvas', {role: 'img', 'aria-label': (config.title || 'chart')});
    box.appendChild(canvas);
    parent.appendChild(box);
    var o = config.options || (config.options = {});
    o.animation = false;
    o.responsive = true;
    o.maintainAspectRatio = false;
    o.plugins = o.plugins || {};
    if (config.title) o.plugins.title = {display: true, text: config.title, font: {size: 14}};
    delete config.title;
    var c = new Chart(canvas, config);
    nCharts++;
    return c;
  }
  function axis(title, extra) {
    var a = {title: {display: true, text: title}};
    Object.keys(extra || {}).forEach(function (k) { a[k] = extra[k]; });
    return a;
  }
  function section(title, note) {
    var s = el('section', null, [el('h2', {text: title})]);
    if (note) s.appendChild(el('p', {class: 'note', text: note}));
    app.appendChild(s);
    return s;
  }
  function card(k, v, cls) {
    return el('div', {class: 'card'}, [el('div', {class: 'k', text: k}), el('div', {class: 'v' + (cls ? ' ' + cls : ''), text: v})]);
  }
  function rows(x) { return Array.isArray(x) ? x.filter(function (r) { return r && typeof r === 'object'; }) : []; }

  /* ---- header ---- */
  function renderHeader(doc) {
    var title = doc.title || (doc.command + ' report');
    document.title = title;
    var meta = [];
    function m(k, v) { if (v !== undefined && v !== null && v !== '') meta.push(el('span', null, [el('b', {text: k + ' '}), String(v)])); }
    m('model', doc.model);
    m('data', doc.data ? doc.data + (doc.split ? ' (' + doc.split + ')' : '') : null);
    m('n', isNum(doc.n) ? int(doc.n) : null);
    var f = doc.float || {};
    if (isNum(f.top1)) m('float top-1', pct(f.top1));
    if (isNum(f.top5)) m('float top-5', pct(f.top5));
    if (isNum(f.loss)) m('float loss', f.loss.toFixed(4));
    app.appendChild(el('header', null, [el('h1', {text: title}), el('p', {class: 'meta'}, meta)]));
  }

  /* ---- results (sweep, sensitivity) ---- */
  function renderResults(doc, res) {
    var s = section('Results', res.length + ' configuration' + (res.length === 1 ? '' : 's') + ' evaluated.');
    var f = doc.float || {};
    var withBits = res.filter(function (r) { return isNum(r.bits); });
    if (withBits.length) {
      var groups = [], byKey = {};
      withBits.forEach(function (r) {
        var key = str(r.what) + ' ' + str(r.layers);
        if (!byKey[key]) { byKey[key] = {label: (r.what ? r.what + ': ' : '') + (r.layers || 'all layers'), rows: []}; groups.push(byKey[key]); }
        byKey[key].rows.push(r);
      });
      groups.forEach(function (g) { g.rows.sort(function (a, b) { return a.bits - b.bits; }); });
      var bits = withBits.map(function (r) { return r.bits; });
      var lo = Math.min.apply(null, bits), hi = Math.max.apply(null, bits);
      function series(get) {
        return groups.map(function (g, i) {
          return {label: g.label, data: g.rows.map(function (r) { return {x: r.bits, y: get(r), spec: r.spec}; }),
            borderColor: color(i), backgroundColor: color(i), pointRadius: 3, spanGaps: false};
        });
      }
      var acc = series(function (r) { return isNum(r.top1) ? 100 * r.top1 : null; });
      if (isNum(f.top1)) acc.push({label: 'float ' + pct(f.top1), data: [{x: lo, y: 100 * f.top1}, {x: hi, y: 100 * f.top1}],
        borderColor: '#111827', borderDash: [6, 4], borderWidth: 1.5, pointRadius: 0, backgroundColor: 'rgba(0,0,0,0)'});
      var tip = {callbacks: {afterLabel: function (c) { return c.raw && c.raw.spec ? 'spec ' + c.raw.spec : ''; }}};
      chart(s, {type: 'line', title: 'Top-1 accuracy against bit width', data: {datasets: acc},
        options: {parsing: false, plugins: {tooltip: tip},
          scales: {x: axis('bits (word width)', {type: 'linear', ticks: {stepSize: 1}}), y: axis('top-1 (%)')}}});
      var hasSqnr = withBits.some(function (r) { return isNum(r.sqnr_db); });
      if (hasSqnr) {
        chart(s, {type: 'line', title: 'Output SQNR against bit width', data: {datasets: series(function (r) { return isNum(r.sqnr_db) ? r.sqnr_db : null; })},
          options: {parsing: false, plugins: {tooltip: tip},
            scales: {x: axis('bits (word width)', {type: 'linear', ticks: {stepSize: 1}}), y: axis('SQNR (dB)')}}});
      }
      if (withBits.length < res.length)
        s.appendChild(el('p', {class: 'note', text: (res.length - withBits.length) + ' configuration(s) without a word width are in the table only.'}));
    } else if (res.length) {
      var labels = res.map(function (r) { return [r.what, r.layers, r.spec].filter(function (x) { return x; }).join(' \u00b7 '); });
      var ds = [{type: 'bar', label: 'top-1 (%)', data: res.map(function (r) { return isNum(r.top1) ? 100 * r.top1 : null; }),
        backgroundColor: color(0)}];
      if (isNum(f.top1)) ds.push({type: 'line', label: 'float ' + pct(f.top1), data: res.map(function () { return 100 * f.top1; }),
        borderColor: '#111827', borderDash: [6, 4], borderWidth: 1.5, pointRadius: 0, backgroundColor: 'rgba(0,0,0,0)'});
      chart(s, {type: 'bar', title: 'Top-1 accuracy per configuration', data: {labels: labels, datasets: ds},
        options: {scales: {y: axis('top-1 (%)')}}}, Math.max(340, 200 + 4 * res.length));
    }
    s.appendChild(table([
      col('what', 'what', function (r) { return str(r.what); }),
      col('layers', 'layers', function (r) { return str(r.layers); }),
      col('spec', 'spec', function (r) { return str(r.spec); }),
      col('bits', 'bits', function (r) { return isNum(r.bits) ? String(r.bits) : DASH; }, true),
      col('top-1', 'top1', function (r) { return pct(r.top1); }, true),
      col('top-5', 'top5', function (r) { return pct(r.top5); }, true),
      col('loss', 'loss', function (r) { return fixed(r.loss, 4); }, true),
      deltaCol(), sqnrCol()
    ], res));
  }

  /* ---- sensitivity ---- */
  function renderSensitivity(sens) {
    var s = section('Sensitivity', 'Accuracy change when one layer alone is quantized; most sensitive first.');
    var specs = [], whats = {};
    sens.forEach(function (r) {
      var k = str(r.spec);
      if (specs.indexOf(k) < 0) specs.push(k);
      whats[str(r.what)] = 1;
    });
    var manyWhats = Object.keys(whats).length > 1;
    function label(r) { return str(r.layer) + (manyWhats && r.what ? ' (' + r.what + ')' : ''); }
    var labels = [], worst = {};
    sens.forEach(function (r) {
      var l = label(r);
      if (!has(worst, l)) { labels.push(l); worst[l] = Infinity; }
      if (isNum(r.delta_top1)) worst[l] = Math.min(worst[l], r.delta_top1);
    });
    labels.sort(function (a, b) {
      var x = worst[a], y = worst[b];
      return x === y ? 0 : x < y ? -1 : 1; /* layers without a number last */
    });
    var datasets = specs.map(function (spec, i) {
      var v = {};
      sens.forEach(function (r) { if (str(r.spec) === spec && isNum(r.delta_top1)) v[label(r)] = r.delta_top1; });
      return {label: spec || 'change', data: labels.map(function (l) { return has(v, l) ? v[l] : null; }),
        backgroundColor: color(i), skipNull: specs.length > 1};
    });
    chart(s, {type: 'bar', title: 'Top-1 change per layer (percentage points)', data: {labels: labels, datasets: datasets},
      options: {indexAxis: 'y', plugins: {legend: {display: specs.length > 1}},
        scales: {x: axis('\u0394 top-1 (pp)'), y: {ticks: {autoSkip: false}}}}},
      Math.max(240, 90 + labels.length * (14 + 8 * Math.min(specs.length, 4))));
    s.appendChild(table([
      col('rank', 'rank', function (r) { return isNum(r.rank) ? String(r.rank) : DASH; }, true),
      col('layer', 'layer', function (r) { return str(r.layer); }),
      col('what', 'what', function (r) { return str(r.what); }),
      col('spec', 'spec', function (r) { return str(r.spec); }),
      deltaCol(), sqnrCol()
    ], sens));
  }

  /* ---- bit-width search ---- */
  function renderSearch(se) {
    var s = section('Bit-width search', 'Cheapest formats found that stay within the accuracy budget' +
      (se.cost ? ' (cost: ' + se.cost + ')' : '') + '.');
    var cards = el('div', {class: 'cards'});
    cards.appendChild(card('budget', isNum(se.budget_pp) ? se.budget_pp.toFixed(2) + ' pp' : DASH));
    if (typeof se.met === 'boolean') cards.appendChild(card('budget met', se.met ? 'yes' : 'no', se.met ? 'good' : 'bad'));
    if (se.family) cards.appendChild(card('family', se.family));
    cards.appendChild(card('top-1 (validation)', pct(se.top1)));
    cards.appendChild(card('float top-1 (validation)', pct(se.float_top1)));
    cards.appendChild(card('accuracy loss', isNum(se.loss_pp) ? se.loss_pp.toFixed(2) + ' pp' : DASH));
    cards.appendChild(card('total bits', int(se.total_bits)));
    cards.appendChild(card('float bits', int(se.float_bits)));
    cards.appendChild(card('compression', isNum(se.compression) ? se.compression.toFixed(2) + '\u00d7' : DASH));
    if (isNum(se.search_n) || isNum(se.validation_n))
      cards.appendChild(card('samples (search / validation)', int(se.search_n) + ' / ' + int(se.validation_n)));
    s.appendChild(cards);
    var layers = rows(se.layers);
    if (layers.length) {
      var whats = [];
      layers.forEach(function (l) { var w = str(l.what); if (whats.indexOf(w) < 0) whats.push(w); });
      var names = layers.map(function (l) { return str(l.layer) + (whats.length > 1 ? ' (' + str(l.what) + ')' : ''); });
      var datasets = whats.map(function (w, i) {
        return {label: w || 'bits', backgroundColor: color(i), skipNull: true,
          data: layers.map(function (l) { return str(l.what) === w && isNum(l.bits) ? l.bits : null; })};
      });
      chart(s, {type: 'bar', title: 'Chosen word width per layer', data: {labels: names, datasets: datasets},
        options: {scales: {x: {ticks: {autoSkip: false, maxRotation: 60}}, y: axis('bits', {beginAtZero: true, ticks: {stepSize: 1}})}}});
    }
    var trace = rows(se.trace);
    if (trace.length) {
      function pts(ok) {
        return trace.filter(function (t) { return !!t.accepted === ok && isNum(t.total_bits) && isNum(t.top1); })
          .map(function (t) { return {x: t.total_bits, y: 100 * t.top1, step: t.step, note: t.note}; });
      }
      var plotted = pts(true).length + pts(false).length;
      var tds = [{label: 'accepted', data: pts(true), showLine: true, borderColor: PALETTE[2], backgroundColor: PALETTE[2], pointRadius: 4},
        {label: 'rejected', data: pts(false), borderColor: PALETTE[1], backgroundColor: PALETTE[1], pointStyle: 'crossRot', pointRadius: 6}];
      var xs = trace.filter(function (t) { return isNum(t.total_bits); }).map(function (t) { return t.total_bits; });
      if (isNum(se.float_top1) && isNum(se.budget_pp) && xs.length) {
        var floor = 100 * se.float_top1 - se.budget_pp;
        tds.push({label: 'budget floor', data: [{x: Math.min.apply(null, xs), y: floor}, {x: Math.max.apply(null, xs), y: floor}],
          showLine: true, borderColor: '#111827', borderDash: [6, 4], borderWidth: 1.5, pointRadius: 0, backgroundColor: 'rgba(0,0,0,0)'});
      }
      if (plotted) chart(s, {type: 'scatter', title: 'Search trace: total bits against top-1', data: {datasets: tds},
        options: {parsing: false, plugins: {tooltip: {callbacks: {afterLabel: function (c) {
          return c.raw && c.raw.step !== undefined ? 'step ' + c.raw.step + (c.raw.note ? ': ' + c.raw.note : '') : ''; }}}},
          scales: {x: axis('total bits', {type: 'linear'}), y: axis('top-1 (%)')}}});
    }
    if (layers.length) {
      s.appendChild(el('h3', {text: 'Chosen formats'}));
      s.appendChild(table([
        col('layer', 'layer', function (r) { return str(r.layer); }),
        col('what', 'what', function (r) { return str(r.what); }),
        col('spec', 'spec', function (r) { return str(r.spec); }),
        col('bits', 'bits', function (r) { return isNum(r.bits) ? String(r.bits) : DASH; }, true),
        col('size', 'size', function (r) { return int(r.size); }, true),
        col('bits \u00d7 size', function (r) { return isNum(r.bits) && isNum(r.size) ? r.bits * r.size : null; },
          function (r) { return isNum(r.bits) && isNum(r.size) ? int(r.bits * r.size) : DASH; }, true)
      ], layers));
    }
    if (trace.length) {
      var d = el('details', null, [el('summary', {text: 'Search steps (' + trace.length + ')'})]);
      d.appendChild(table([
        col('step', 'step', function (r) { return str(r.step); }, true),
        col('total bits', 'total_bits', function (r) { return int(r.total_bits); }, true),
        col('top-1', 'top1', function (r) { return pct(r.top1); }, true),
        col('accepted', function (r) { return r.accepted ? 1 : 0; }, function (r) { return r.accepted ? 'yes' : 'no'; }, false,
          function (r) { return r.accepted ? 'good' : 'bad'; }),
        col('note', 'note', function (r) { return str(r.note); })
      ], trace));
      s.appendChild(d);
    }
  }

  /* ---- value statistics ---- */
  function histData(layer, log2) {
    if (log2) {
      var h2 = layer.log2_histogram;
      var labels = h2.exponents.map(function (e) { return '2^' + e; });
      var counts = h2.counts.slice();
      if (isNum(h2.zeros) && h2.zeros > 0) { labels.unshift('0'); counts.unshift(h2.zeros); }
      return {labels: labels, counts: counts, x: '|x| in [2^e, 2^(e+1))'};
    }
    var h = layer.histogram;
    return {labels: h.counts.map(function (_, i) { return sig((h.edges[i] + h.edges[i + 1]) / 2); }),
      counts: h.counts, x: 'value (bin centre)'};
  }
  function renderStats(st) {
    var layers = rows(st.layers);
    var s = section('Value statistics', layers.length + ' tensor' + (layers.length === 1 ? '' : 's') +
      '; histograms of the values (linear bins over [min, max]) or of their magnitudes by power of two.');
    var grid = el('div', {class: 'grid'});
    s.appendChild(grid);
    layers.forEach(function (l, i) {
      var hasLin = !!(l.histogram && Array.isArray(l.histogram.counts));
      var hasLog = !!(l.log2_histogram && Array.isArray(l.log2_histogram.counts));
      var cell = el('div', {class: 'cell'}, [el('h3', {text: str(l.layer) || str(l.value)}),
        el('div', {class: 'sub', text: [l.value, l.op, l.kind].filter(function (x) { return x; }).join(' \u00b7 ') +
          (isNum(l.min) ? '  [' + sig(l.min) + ', ' + sig(l.max) + ']' : '')})]);
      grid.appendChild(cell);
      if (!hasLin && !hasLog) { cell.appendChild(el('p', {class: 'note', text: 'no histogram'})); return; }
      var log2 = !hasLin;
      var hd = histData(l, log2);
      var c = chart(cell, {type: 'bar', data: {labels: hd.labels, datasets: [{label: 'count', data: hd.counts,
        backgroundColor: color(i), barPercentage: 1.0, categoryPercentage: 1.0}]},
        options: {plugins: {legend: {display: false}},
          scales: {x: axis(hd.x, {ticks: {maxRotation: 0, autoSkipPadding: 8}}), y: axis('count', {beginAtZero: true})}}});
      if (hasLin && hasLog) {
        var bLin = el('button', {type: 'button', class: 'on', text: 'linear bins'});
        var bLog = el('button', {type: 'button', text: 'log2 |x|'});
        var show = function (lg) {
          var d = histData(l, lg);
          c.data.labels = d.labels;
          c.data.datasets[0].data = d.counts;
          c.options.scales.x.title.text = d.x;
          c.update();
          bLin.classList.toggle('on', !lg);
          bLog.classList.toggle('on', lg);
        };
        bLin.addEventListener('click', function () { show(false); });
        bLog.addEventListener('click', function () { show(true); });
        cell.appendChild(el('div', {class: 'toggle'}, [bLin, bLog]));
      }
    });
    var pkeys = [], fkeys = [];
    layers.forEach(function (l) {
      Object.keys(l.percentiles || {}).forEach(function (k) { if (pkeys.indexOf(k) < 0) pkeys.push(k); });
      Object.keys(l.frac_bits || {}).forEach(function (k) { if (fkeys.indexOf(k) < 0) fkeys.push(k); });
    });
    pkeys.sort(function (a, b) { return Number(a) - Number(b); });
    fkeys.sort(function (a, b) { return Number(a) - Number(b); });
    var cols = [
      col('layer', 'layer', function (r) { return str(r.layer); }),
      col('value', 'value', function (r) { return str(r.value); }),
      col('kind', 'kind', function (r) { return str(r.kind); }),
      col('count', 'count', function (r) { return int(r.count); }, true),
      col('min', 'min', function (r) { return sig(r.min); }, true),
      col('max', 'max', function (r) { return sig(r.max); }, true),
      col('mean', 'mean', function (r) { return sig(r.mean); }, true),
      col('std', 'std', function (r) { return sig(r.std); }, true),
      col('zeros', 'zeros', function (r) { return pct(r.zeros); }, true)];
    pkeys.forEach(function (k) {
      cols.push(col('p' + k, function (r) { return r.percentiles ? r.percentiles[k] : null; },
        function (r) { return sig(r.percentiles ? r.percentiles[k] : null); }, true));
    });
    fkeys.forEach(function (k) {
      cols.push(col('frac bits @' + k, function (r) { return r.frac_bits ? r.frac_bits[k] : null; },
        function (r) { var v = r.frac_bits ? r.frac_bits[k] : null; return isNum(v) ? String(v) : DASH; }, true));
    });
    s.appendChild(el('h3', {text: 'Summary'}));
    s.appendChild(table(cols, layers));
    if (fkeys.length)
      s.appendChild(el('p', {class: 'note', text: 'frac bits @w: fractional bits of a signed w-bit fixed-point word that still covers max |x|.'}));
  }

  try {
    if (typeof Chart !== 'function') throw new Error('Chart.js did not load');
    var doc = JSON.parse(document.getElementById('tq-report-data').textContent);
    app.textContent = '';
    renderHeader(doc);
    var any = false;
    var res = rows(doc.results);
    if (res.length) { renderResults(doc, res); any = true; }
    var sens = rows(doc.sensitivity);
    if (sens.length) { renderSensitivity(sens); any = true; }
    if (doc.search && typeof doc.search === 'object') { renderSearch(doc.search); any = true; }
    if (doc.stats && rows(doc.stats.layers).length) { renderStats(doc.stats); any = true; }
    if (!any) section('No results', 'This document has no results, sensitivity, search or stats part.');
    app.appendChild(el('footer', {text: 'tq report \u00b7 ' + (doc.created_by || 'TensorQuant') + ' \u00b7 schema ' + doc.schema +
      ' \u00b7 command ' + doc.command}));
    body.dataset.charts = String(nCharts);
    body.dataset.ready = '1';
  } catch (e) {
    var msg = (e && e.message) ? e.message : String(e);
    body.dataset.charts = String(nCharts);
    body.dataset.error = msg;
    var box = document.getElementById('error') || el('div', {id: 'error'});
    box.textContent = 'This report could not be drawn: ' + msg;
    app.insertBefore(box, app.firstChild);
  }
})();
