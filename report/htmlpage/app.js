// calm's HTML report: a player per embedded session, timeline clicks that
// seek it, copy buttons, and folds that open for printing.
(function () {
  'use strict';
  var config = JSON.parse(document.getElementById('calm-config').textContent);
  var state = { players: [], ended: [], errors: [], castText: castText, seek: seek, lastSeek: null };
  window.calmReport = state;

  // The casts are in the page as base64 (gzipped when large); a data: URL
  // decodes them without any request leaving the file.
  function castText(i) {
    var el = document.getElementById('cast-' + i);
    if (!el) return Promise.reject(new Error('session ' + i + ' is not embedded'));
    return fetch('data:application/octet-stream;base64,' + el.textContent.trim()).then(function (resp) {
      if (el.dataset.encoding === 'gzip') {
        resp = new Response(resp.body.pipeThrough(new DecompressionStream('gzip')));
      }
      return resp.text();
    });
  }

  // The players start once the page has painted: reading a large cast
  // must not hold back the first view of the report.
  function startPlayers() {
    config.sessions.forEach(startPlayer);
  }
  if (document.readyState === 'complete') {
    setTimeout(startPlayers, 0);
  } else {
    window.addEventListener('load', function () {
      requestAnimationFrame(function () { setTimeout(startPlayers, 0); });
    });
  }

  function startPlayer(s, i) {
    var box = document.getElementById('player-' + i);
    if (!s.embedded || !box) return;
    try {
      var opts = {
        markers: s.markers,
        idleTimeLimit: config.idleTimeLimit,
        preload: s.preload,
        fit: 'width',
        terminalFontFamily: 'ui-monospace, "DejaVu Sans Mono", "Liberation Mono", Menlo, monospace'
      };
      if (s.cols && s.rows) { opts.cols = s.cols; opts.rows = s.rows; }
      var player = AsciinemaPlayer.create({ data: function () { return castText(i); } }, box, opts);
      player.addEventListener('ended', function () { state.ended[i] = true; });
      state.players[i] = player;
    } catch (e) {
      state.errors.push(String(e));
      box.textContent = 'The player could not start: ' + e;
    }
  }

  // seek moves session i's player to t seconds and brings it into view.
  function seek(i, t) {
    var player = state.players[i];
    if (!player) return Promise.resolve(false);
    var box = document.getElementById('player-' + i);
    box.scrollIntoView({ block: 'center' });
    return player.pause().then(function () { return player.seek(t); }).then(function () { return true; });
  }

  var current = null;
  document.querySelectorAll('ol.timeline li[data-session]').forEach(function (li) {
    li.addEventListener('click', function (e) {
      if (e.target.closest('a')) return;
      if (current) current.classList.remove('current');
      current = li;
      li.classList.add('current');
      state.lastSeek = seek(Number(li.dataset.session), Number(li.dataset.t));
    });
  });

  document.querySelectorAll('button.copy').forEach(function (button) {
    button.addEventListener('click', function () {
      var box = document.getElementById(button.dataset.target);
      var text = Array.prototype.map.call(box.querySelectorAll('pre'), function (p) { return p.textContent; }).join('\n');
      var done = function () { button.textContent = 'Copied'; setTimeout(function () { button.textContent = 'Copy'; }, 1500); };
      var fallback = function () {
        var area = document.createElement('textarea');
        area.value = text;
        document.body.appendChild(area);
        area.select();
        document.execCommand('copy');
        area.remove();
        done();
      };
      if (navigator.clipboard && navigator.clipboard.writeText) {
        navigator.clipboard.writeText(text).then(done, fallback);
      } else {
        fallback();
      }
    });
  });

  // Paper has no clicks: folded lines print open.
  window.addEventListener('beforeprint', function () {
    document.querySelectorAll('details.fold').forEach(function (d) { d.open = true; });
  });
})();
