// A line diff of two notice bodies (their Markdown/HTML source) for the revision history.
// Longest common subsequence over the lines that differ after the common head and tail are cut;
// a change too large to compare cheaply returns null and the caller says "changed".

const MAX_CELLS = 1_000_000;

// [{ op: 'same' | 'del' | 'add', text }] or null when the bodies are too far apart to compare.
export function lineDiff(before, after) {
  const a = before ? before.split('\n') : [];
  const b = after ? after.split('\n') : [];
  let head = 0;
  while (head < a.length && head < b.length && a[head] === b[head]) head += 1;
  let tail = 0;
  while (tail < a.length - head && tail < b.length - head
    && a[a.length - 1 - tail] === b[b.length - 1 - tail]) tail += 1;
  const x = a.slice(head, a.length - tail);
  const y = b.slice(head, b.length - tail);
  if (x.length * y.length > MAX_CELLS) return null;
  // lcs[i][j]: length of the LCS of x[i:] and y[j:], one row per line of x.
  const lcs = Array.from({ length: x.length + 1 }, () => new Uint32Array(y.length + 1));
  for (let i = x.length - 1; i >= 0; i -= 1) {
    for (let j = y.length - 1; j >= 0; j -= 1) {
      lcs[i][j] = x[i] === y[j] ? lcs[i + 1][j + 1] + 1 : Math.max(lcs[i + 1][j], lcs[i][j + 1]);
    }
  }
  const ops = a.slice(0, head).map((text) => ({ op: 'same', text }));
  let i = 0;
  let j = 0;
  while (i < x.length || j < y.length) {
    if (i < x.length && j < y.length && x[i] === y[j]) {
      ops.push({ op: 'same', text: x[i] });
      i += 1;
      j += 1;
    } else if (i < x.length && (j === y.length || lcs[i + 1][j] >= lcs[i][j + 1])) {
      ops.push({ op: 'del', text: x[i] });
      i += 1;
    } else {
      ops.push({ op: 'add', text: y[j] });
      j += 1;
    }
  }
  for (const text of a.slice(a.length - tail)) ops.push({ op: 'same', text });
  return ops;
}

// The diff with unchanged runs longer than 2 × context folded into { op: 'skip', count }.
export function foldContext(ops, context = 2) {
  const out = [];
  let run = [];
  const flush = (last) => {
    const keepHead = out.length ? context : 0; // after a change
    const keepTail = last ? 0 : context; // before a change
    if (run.length > keepHead + keepTail + 1) {
      out.push(...run.slice(0, keepHead), { op: 'skip', count: run.length - keepHead - keepTail },
        ...run.slice(run.length - keepTail));
    } else {
      out.push(...run);
    }
    run = [];
  };
  for (const op of ops) {
    if (op.op === 'same') run.push(op);
    else {
      flush(false);
      out.push(op);
    }
  }
  flush(true);
  return out;
}
