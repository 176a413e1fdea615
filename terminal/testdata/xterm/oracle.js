// The reference terminal for calm's emulator tests: xterm.js (headless) runs
// each workload's bytes and prints what a person saw, with calm's rule for
// history applied on top of xterm.js's own scrollback (calm keeps what a
// terminal erases; see README "Nothing shown is lost"):
//   - an erase of the whole main screen (ESC[2J, ESC[J from the top, RIS)
//     first scrolls the screen's rows, to the last one showing something,
//     into history; ESC[3J erases no history;
//   - a full-screen program's start first scrolls the rows above the cursor
//     into history, and its end leaves its last screen between two markers.
// Input (stdin): JSON [{name, cols, rows, newline, events: [["o", base64] |
// ["r", "COLSxROWS"]]}]. Output (stdout): JSON [{name, lines: [...]}], soft
// wrapped rows joined into one line, trailing blanks cut.
'use strict';
const { Terminal } = require('@xterm/headless');

const markLast = '── full-screen program, its last screen ──';
const markEnd = '── end of full-screen program ──';

function write(term, data) {
  return new Promise((resolve) => term.write(data, resolve));
}

// sgr is a cell's look as calm writes it (Style.AppendSGR), '' for none.
function sgr(c) {
  const p = ['0'];
  if (c.isBold()) p.push('1');
  if (c.isDim()) p.push('2');
  if (c.isItalic()) p.push('3');
  if (c.isUnderline()) p.push('4');
  if (c.isBlink()) p.push('5');
  if (c.isInverse()) p.push('7');
  if (c.isStrikethrough()) p.push('9');
  const colour = (lead, palette, rgb, v) => {
    if (palette) p.push(`${lead};5;${v}`);
    else if (rgb) p.push(`${lead};2;${(v >> 16) & 255};${(v >> 8) & 255};${v & 255}`);
  };
  colour('38', c.isFgPalette(), c.isFgRGB(), c.getFgColor());
  colour('48', c.isBgPalette(), c.isBgRGB(), c.getBgColor());
  return p.length === 1 ? '' : '\x1b[' + p.join(';') + 'm';
}

// styledRow renders a row's cells with their looks; calm's test makes both
// sides canonical (trailing blanks, invisible looks), so all are written.
function styledRow(row, cols) {
  let out = '';
  let cur = '';
  for (let x = 0; x < cols; x++) {
    const c = row.getCell(x);
    if (!c || c.getWidth() === 0) continue;
    const look = sgr(c);
    if (look !== cur) {
      out += look === '' ? '\x1b[0m' : look;
      cur = look;
    }
    out += c.getChars() || ' ';
  }
  if (cur !== '') out += '\x1b[0m';
  return out;
}

// logical joins soft-wrapped rows [from, to] of a buffer into lines, as
// plain text and with their looks.
function logical(buf, from, to, cols) {
  const out = [];
  let cur = null;
  for (let i = from; i <= to; i++) {
    const row = buf.getLine(i);
    if (!row) break;
    const next = i < to ? buf.getLine(i + 1) : null;
    const joined = next && next.isWrapped;
    // A wide character that did not fit in the last column wrapped and
    // left that cell empty: xterm.js's own join (getWrappedLineTrimmedLength)
    // ends the row before it.
    let width = cols;
    if (joined) {
      const last = row.getCell(cols - 1);
      const first = next.getCell(0);
      if (last && first && first.getWidth() === 2 && last.getWidth() === 1 && last.getCode() === 0) width = cols - 1;
    }
    const text = row.translateToString(!joined, 0, width);
    const styled = styledRow(row, width);
    if (cur !== null && row.isWrapped) {
      cur.text += text;
      cur.styled += styled;
    } else {
      if (cur !== null) out.push(cur);
      cur = { text, styled };
    }
  }
  if (cur !== null) out.push(cur);
  return out;
}

const mark = (text) => ({ text, styled: '\x1b[0;2m' + text + '\x1b[0m' });

// shows is whether a row shows anything: text, or blanks a background,
// inverse video or a line makes visible (calm's blankLooks).
function shows(row, cols) {
  if (row.translateToString(true) !== '') return true;
  for (let x = 0; x < cols; x++) {
    const c = row.getCell(x);
    if (c && (!c.isBgDefault() || c.isInverse() || c.isUnderline() || c.isStrikethrough())) return true;
  }
  return false;
}

function lastShown(buf, rows, cols) {
  let last = rows - 1;
  while (last >= 0 && !shows(buf.getLine(buf.baseY + last), cols)) last--;
  return last;
}

async function run(w) {
  const term = new Terminal({ cols: w.cols, rows: w.rows, scrollback: 100000, allowProposedApi: true, convertEol: !!w.newline });
  const acc = [];
  let rows = w.rows;
  let cols = w.cols;
  const normal = () => term.buffer.active.type === 'normal';

  async function flushScrollback() {
    const b = term.buffer.normal;
    if (b.baseY > 0) {
      acc.push(...logical(b, 0, b.baseY - 1, cols));
      await write(term, '\x1b[3J');
    }
  }
  // scrollRows scrolls the top n rows of the main screen into scrollback,
  // and puts the cursor at (x, y).
  async function scrollRows(n, x, y) {
    if (n <= 0) return;
    await write(term, `\x1b[${rows};1H` + '\n'.repeat(n) + `\x1b[${y + 1};${x + 1}H`);
  }
  async function pushScreen() {
    const b = term.buffer.normal;
    const last = lastShown(b, rows, cols);
    await scrollRows(last + 1, b.cursorX, b.cursorY);
    await flushScrollback();
  }
  async function leaveAlt() {
    const b = term.buffer.alternate;
    const last = lastShown(b, rows, cols);
    if (last >= 0) {
      acc.push(mark(markLast));
      acc.push(...logical(b, 0, last, cols));
      acc.push(mark(markEnd));
    }
  }

  const special = /\x1b\[(\??)([0-9;]*)([hlJ])|\x1bc/g;
  let carry = Buffer.alloc(0); // a sequence cut between two events
  for (const [kind, data] of w.events) {
    if (kind === 'r') {
      const [c, r] = data.split('x').map(Number);
      term.resize(c, r);
      cols = c;
      rows = r;
      continue;
    }
    // Bytes go to xterm.js as bytes (its own UTF-8 decoder, across events);
    // latin1 only finds the sequences that need calm's rule.
    let bytes = Buffer.concat([carry, Buffer.from(data, 'base64')]);
    const cut = bytes.toString('latin1').search(/\x1b(\[[0-9;?]*)?$/);
    carry = Buffer.alloc(0);
    if (cut >= 0) {
      carry = bytes.subarray(cut);
      bytes = bytes.subarray(0, cut);
    }
    const text = bytes.toString('latin1');
    let from = 0;
    special.lastIndex = 0;
    for (let m; (m = special.exec(text)); ) {
      const seq = m[0];
      const params = (m[2] || '').split(';').map((p) => (p === '' ? 0 : Number(p)));
      let action = null;
      if (seq === '\x1bc') action = 'ris';
      else if (m[3] === 'J' && m[1] === '') action = 'ed' + params[0];
      else if (m[1] === '?' && m[3] !== 'J' && params.some((p) => p === 1049 || p === 1047 || p === 47)) action = m[3] === 'h' ? 'altOn' : 'altOff';
      if (!action) continue;
      await write(term, bytes.subarray(from, m.index));
      from = m.index;
      const b = term.buffer.active;
      if (action === 'ris') {
        if (!normal()) {
          await leaveAlt();
          await write(term, '\x1b[?1047l');
        }
        await pushScreen();
      } else if (action === 'ed2' && normal()) await pushScreen();
      else if (action === 'ed0' && normal() && b.cursorX === 0 && b.cursorY === 0) await pushScreen();
      else if (action === 'ed3' && normal()) await flushScrollback();
      else if (action === 'altOn' && normal()) {
        await scrollRows(b.cursorY, b.cursorX, 0);
        await flushScrollback();
      } else if (action === 'altOff' && !normal()) await leaveAlt();
    }
    await write(term, bytes.subarray(from));
  }
  await write(term, carry);
  if (!normal()) {
    await leaveAlt();
    await write(term, '\x1b[?1049l\x1b[?47l');
  }
  const b = term.buffer.normal;
  const last = lastShown(b, rows, cols);
  acc.push(...logical(b, 0, b.baseY + last, cols));
  term.dispose();
  return { name: w.name, lines: acc.map((l) => l.text), styled: acc.map((l) => l.styled) };
}

async function main() {
  const chunks = [];
  for await (const c of process.stdin) chunks.push(c);
  const workloads = JSON.parse(Buffer.concat(chunks).toString('utf8'));
  const out = [];
  for (const w of workloads) out.push(await run(w));
  process.stdout.write(JSON.stringify(out));
}

main().catch((err) => {
  console.error(err && err.stack ? err.stack : String(err));
  process.exit(1);
});
