# The Ruby fork server: starts Ruby (MRI, --disable-gems) once, then forks one child per program.
#
# Started by the supervisor (supervisor.py) inside the worker's sandbox, with the same flags as a plain
# run. Protocol, one line each way, as the Perl server's:
#   in:  "<nonce>\t<dir>\t<file>\t<stdout fifo>\t<stderr fifo>"
#   out: "pid <nonce> <child pid>", then "exit <nonce> <wait status>" when the child has ended.
# The child makes a new session, reopens stdin/stdout/stderr on /dev/null and the two FIFOs (Ruby's
# reopen keeps descriptors 0/1/2, so subprocesses inherit them), moves into <dir>, then stops itself:
# the supervisor sets its resource limits (prlimit) and continues it. It then loads <file> as
# `ruby <file>` would run it: Ruby itself reports an uncaught exception (exit status 1, at_exit
# handlers run), minus this server's frames in the backtrace, and `exit` keeps its status.
# Programs whose run needs other flags (a gem, `-rset`) are not sent here: executor.py runs them in a
# fresh process. Written here because no gem does this (a preforking server for untrusted one-shot
# scripts); it saves Ruby's ~9 ms start per program.
$stdout.sync = true
while (line = $stdin.gets)
  nonce, dir, file, out, err = line.chomp.split("\t")
  pid = fork do
    Process.setsid
    $stdin.reopen("/dev/null")
    $stdout.reopen(out, "w")
    $stderr.reopen(err, "w")
    $stdout.sync = false
    $stderr.sync = true
    Dir.chdir(dir)
    ENV["HOME"] = ENV["TMPDIR"] = dir
    Process.kill(:STOP, Process.pid)
    $PROGRAM_NAME = file
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
