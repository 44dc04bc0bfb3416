"""Ruby (MRI): `--disable-gems` skips RubyGems' start-up (~35 ms); a program that requires a gem gets
RubyGems back, and one that uses `Set` (which RubyGems would have loaded) gets `-rset`. Even without
RubyGems Ruby takes ~9 ms to start, so a fork server (`servers/ruby_server.rb`, same flags) starts it
once and forks a child per program; programs that need other flags run in a fresh process.

The seal (see PROOF in base.py): a `BEGIN {}` block on the first line (after leading magic comments),
which runs before any other BEGIN block and any other code, reads and deletes the proof file and keeps
the token in the closure of `__psft_end`, a top-level local (out of reach of methods). The epilogue
calls it on the last line; it writes the token only on its first call, from the main thread, when the
call stack is the one the BEGIN block saw with the top frame moved to the last line (same path, label
and absolute path: `eval` with a forged file and line has no absolute path, and a call from a method,
block, thread or exit hook has other frames). Everything it uses was captured as UnboundMethods in the
BEGIN block, so a completion that redefines `Integer#==`, `Array#size` or `caller_locations` cannot
change its answer.
"""
import re

from .base import PROOF_FILE, Language, one_line_prologue_layout

# Libraries that load without RubyGems; any other `require` runs with RubyGems (slower start-up).
GEM_FREE = {"set", "json", "date", "time", "bigdecimal", "digest", "securerandom", "stringio", "pp"}
_REQUIRE = re.compile(r"^\s*require\s*\(?\s*['\"]([^'\"]+)['\"]", re.M)
_USES_SET = re.compile(r"\bSet\b|\.to_set\b")


# The prologue's statements, joined with "; " onto one line. LAST is the epilogue's line.
_PROLOGUE = """
__psft_end = lambda do
  cl = Kernel.instance_method(:caller_locations)
  lpath = Thread::Backtrace::Location.instance_method(:path)
  lline = Thread::Backtrace::Location.instance_method(:lineno)
  llabel = Thread::Backtrace::Location.instance_method(:label)
  labs = Thread::Backtrace::Location.instance_method(:absolute_path)
  size = Array.instance_method(:size)
  at = Array.instance_method(:[])
  seq = String.instance_method(:==)
  ieq = Integer.instance_method(:==)
  ilt = Integer.instance_method(:<)
  iadd = Integer.instance_method(:+)
  same = BasicObject.instance_method(:equal?)
  current = Thread.method(:current)
  main = Thread.current
  out = STDOUT
  write = IO.instance_method(:write)
  flush = IO.instance_method(:flush)
  want = cl.bind_call(self, 2).map { |l| [l.path, l.lineno, l.label, l.absolute_path] }
  want[0] = [want[0][0], LAST, want[0][2], want[0][3]]
  n = want.size
  tok = begin
    t = File.binread(FILE)
    File.delete(FILE)
    t
  rescue SystemCallError
    nil
  end
  msg = tok && ("\\n".b + tok + "\\n".b)
  tok = nil
  match = lambda do |loc, w|
    a = labs.bind_call(loc)
    b = at.bind_call(w, 3)
    abs = if same.bind_call(b, nil) then same.bind_call(a, nil) elsif same.bind_call(a, nil) then false else seq.bind_call(a, b) end
    abs && seq.bind_call(lpath.bind_call(loc), at.bind_call(w, 0)) && ieq.bind_call(lline.bind_call(loc), at.bind_call(w, 1)) && seq.bind_call(llabel.bind_call(loc), at.bind_call(w, 2))
  end
  lambda do
    m = msg
    msg = nil
    if same.bind_call(m, nil) then return nil end
    locs = cl.bind_call(self, 2)
    unless ieq.bind_call(size.bind_call(locs), n) then return nil end
    i = 0
    while ilt.bind_call(i, n)
      unless match.call(at.bind_call(locs, i), at.bind_call(want, i)) then return nil end
      i = iadd.bind_call(i, 1)
    end
    unless same.bind_call(current.call, main) then return nil end
    begin
      $stdout.flush
    rescue Exception
      nil
    end
    flush.bind_call(out)
    write.bind_call(out, m)
    flush.bind_call(out)
    nil
  end
end.call
"""

# Magic comments must stay in the file's first comment lines.
_MAGIC = re.compile(r"^#.*\b(coding|encoding|frozen_string_literal|warn_indent|shareable_constant_value|warn_past_scope)\s*[:=]", re.I)


def _head(lines: list[str]) -> int:
    end = 0
    for i, line in enumerate(lines):
        if not line.startswith("#"):
            break
        if _MAGIC.match(line) or (i == 0 and line.startswith("#!")):
            end = i + 1
    return end


def seal(code: str, tests: str, prelude: str = "") -> str:
    head, middle, last = one_line_prologue_layout(code, tests, prelude, _head(code.split("\n")))
    stmts = [line.strip() for line in _PROLOGUE.strip().splitlines()]
    text = "; ".join(stmts).replace("LAST", str(last)).replace("FILE", repr(PROOF_FILE))
    return head + "BEGIN { " + text + " }\n" + middle + "__psft_end.call\n"


def adapt(argv: list[str], source: str) -> list[str]:
    if not set(_REQUIRE.findall(source)) <= GEM_FREE:
        return [a for a in argv if a != "--disable-gems"]
    if _USES_SET.search(source):
        return [argv[0], "-rset", *argv[1:]]
    return argv


LANG = Language(
    name="ruby", ext="rb", aliases=("rb",),
    run=("ruby", "--disable-gems", "{src}"), server=("ruby", "--disable-gems", "{servers}/ruby_server.rb"),
    version=("ruby", "--version"), debian=("ruby",),
    syntax_patterns=(r"syntax error", r"\(SyntaxError\)"),
    failure_patterns=(r"\((StandardError|RuntimeError|Minitest::Assertion|Test::Unit::AssertionFailedError)\)",
                      r"(?m)^test case \d+ did not pass: "),
    memory_patterns=(r"\(NoMemoryError\)", r"failed to allocate memory"),
    adapt=adapt,
    fast_flags_note="fork server with --disable-gems, unless the program requires a gem or uses Set",
    seal=seal,
)
