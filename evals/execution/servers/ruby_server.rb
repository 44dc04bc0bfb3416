# The Ruby fork server: starts Ruby (MRI, --disable-gems) once, then forks one child per program.
#
# Started by the supervisor (supervisor.py) inside the worker's sandbox, with the same flags as a plain
# run. Protocol, one line each way, as the Perl server's:
#   in:  "<nonce>\t<dir>\t<file>\t<stdout fifo>\t<stderr fifo>[\t<proof token>[\t<stdin file>]]" (an empty
#        token field: none)
#   out: "pid <nonce> <child pid>", then "exit <nonce> <wait status>" when the child has ended.
# The child makes a new session, reopens stdin/stdout/stderr on the stdin file (default /dev/null) and the two FIFOs (Ruby's
# reopen keeps descriptors 0/1/2, so subprocesses inherit them), moves into <dir>, then stops itself:
# the supervisor sets its resource limits (prlimit) and continues it. It then loads <file> as
# `ruby <file>` would run it: Ruby itself reports an uncaught exception (exit status 1, at_exit
# handlers run), minus this server's frames in the backtrace, and `exit` keeps its status.
# Programs whose run needs other flags (a gem, `-rset`) are not sent here: executor.py runs them in a
# fresh process. Written here because no gem does this (a preforking server for untrusted one-shot
# scripts); it saves Ruby's ~9 ms start per program.
# The completion proof's factory (see PROOF in evals/languages/base.py and `seal` in ruby.py): built
# here once, before any program runs, so a child does not compile and run these captures itself. A
# sealed program's prologue (its first BEGIN block, which runs before any of its other code) calls it
# with its last line and the proof file's name and then clears the global, so the program's own code
# never sees it. The call takes the token from $__psft_token (set by this server's child from its
# request line, and cleared by the call) or else reads and deletes the proof file; a later call (e.g.
# found through ObjectSpace) finds neither and gets an emitter that writes nothing. The lines between the two markers are also what the prologue
# evaluates when this global is absent (a plain `ruby main.rb`), so both paths run the same code.
$__psft_factory =
  # PSFT FACTORY BEGIN
  lambda do
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
    write = IO.instance_method(:write)
    flush = IO.instance_method(:flush)
    match = lambda do |loc, w|
      a = labs.bind_call(loc)
      b = at.bind_call(w, 3)
      abs = if same.bind_call(b, nil) then same.bind_call(a, nil) elsif same.bind_call(a, nil) then false else seq.bind_call(a, b) end
      abs && seq.bind_call(lpath.bind_call(loc), at.bind_call(w, 0)) && ieq.bind_call(lline.bind_call(loc), at.bind_call(w, 1)) && seq.bind_call(llabel.bind_call(loc), at.bind_call(w, 2))
    end
    lambda do |last, file|
      main = current.call
      out = STDOUT
      want = cl.bind_call(self, 2).map { |l| [l.path, l.lineno, l.label, l.absolute_path] }
      want[0] = [want[0][0], last, want[0][2], want[0][3]]
      n = want.size
      tok = $__psft_token
      $__psft_token = nil
      if same.bind_call(tok, nil)
        tok = if File.exist?(file)
          begin
            t = File.binread(file)
            File.delete(file)
            t
          rescue SystemCallError
            nil
          end
        end
      end
      msg = tok && ("\n".b + tok + "\n".b)
      tok = nil
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
    end
  end.call.freeze
  # PSFT FACTORY END
$stdout.sync = true
while (line = $stdin.gets)
  nonce, dir, file, out, err, token, input = line.chomp.split("\t")
  token = nil if token == ""
  input = "/dev/null" if input.nil? || input.empty?
  pid = fork do
    Process.setsid
    $stdin.reopen(input)
    $stdout.reopen(out, "w")
    $stderr.reopen(err, "w")
    $stdout.sync = false
    $stderr.sync = true
    Dir.chdir(dir)
    ENV["HOME"] = ENV["TMPDIR"] = dir
    Process.kill(:STOP, Process.pid)
    $PROGRAM_NAME = file
    $__psft_token = token && token.b # the proof token, taken and cleared by the factory's call
    begin
      load(file)
    rescue Exception => e # rubocop:disable Lint/RescueException -- any error, as the interpreter reports it
      own = (e.backtrace || []).reject { |f| f.start_with?(__FILE__) }
      if own.empty? && e.is_a?(SyntaxError) # the file itself did not parse: Ruby prints just the message
        $stderr.puts(e.message)
        exit!(1)
      end
      # without this server's frames, and with the file's top level named as in a plain run
      e.set_backtrace(own.map { |f| f.start_with?("#{file}:") ? f.sub("`<top (required)>'", "`<main>'") : f })
      raise
    end
  end
  puts "pid #{nonce} #{pid}"
  Process.wait(pid)
  puts "exit #{nonce} #{$?.to_i}"
end
