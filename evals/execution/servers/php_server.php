<?php
// The PHP fork server: starts PHP once, then forks one child per program (pcntl_fork).
//
// Started by the supervisor (supervisor.py) inside the worker's sandbox, with the same flags as a
// plain run plus FFI. Protocol, one line each way:
//   in:  "<nonce>\t<dir>\t<file>\t<stdout fifo>\t<stderr fifo>[\t<unused>\t<stdin file>]"
//   out: "pid <nonce> <child pid>", then "exit <nonce> <wait status> <max RSS in kB>" when the child has ended.
// The supervisor accepts only answers that carry the request's nonce.
// The child makes a new session, points file descriptors 0/1/2 at the stdin file (default /dev/null) and the two FIFOs with
// libc's dup2 through FFI (PHP has no dup2, and reopening STDOUT would leave the STDOUT constant
// closed for the program), moves into <dir>, then stops itself: the supervisor sets its resource
// limits (prlimit) and continues it. It then includes <file>, as `php <file>` would run it.
// Variables here are prefixed so that a program's globals never meet ours.
$__psft_libc = FFI::cdef("int dup2(int, int); int open(const char *, int, int); int close(int);", "libc.so.6");
while (($__psft_line = fgets(STDIN)) !== false) {
    [$__psft_nonce, $__psft_dir, $__psft_file, $__psft_out, $__psft_err] = $__psft_fields = explode("\t", rtrim($__psft_line, "\n"));
    $__psft_in = ($__psft_fields[6] ?? '') !== '' ? $__psft_fields[6] : '/dev/null';
    $__psft_pid = pcntl_fork();
    if ($__psft_pid === -1) {
        fwrite(STDOUT, "error fork\n");
        continue;
    }
    if ($__psft_pid === 0) {
        posix_setsid();
        foreach ([[0, $__psft_in, 0], [1, $__psft_out, 1], [2, $__psft_err, 1]] as [$__psft_to, $__psft_path, $__psft_flags]) {
            $__psft_fd = $__psft_libc->open($__psft_path, $__psft_flags, 0);
            if ($__psft_fd < 0 || $__psft_libc->dup2($__psft_fd, $__psft_to) < 0) {
                exit(126);
            }
            $__psft_libc->close($__psft_fd);
        }
        chdir($__psft_dir);
        putenv("HOME=$__psft_dir");
        putenv("TMPDIR=$__psft_dir");
        // what `php main.php` sets; the file is then found relative to the working directory
        $_SERVER['argv'] = $argv = [$__psft_file];
        $_SERVER['argc'] = $argc = 1;
        $_SERVER['SCRIPT_FILENAME'] = $_SERVER['SCRIPT_NAME'] = $_SERVER['PHP_SELF'] = $__psft_file;
        posix_kill(posix_getpid(), SIGSTOP);
        unset($__psft_line, $__psft_fields, $__psft_in, $__psft_nonce, $__psft_out, $__psft_err, $__psft_to, $__psft_fd, $__psft_flags, $__psft_pid,
              $__psft_libc, $__psft_dir, $__psft_file, $__psft_path, $__psft_status, $__psft_usage);
        include $_SERVER['SCRIPT_FILENAME'];
        exit(0);
    }
    fwrite(STDOUT, "pid $__psft_nonce $__psft_pid\n");
    pcntl_waitpid($__psft_pid, $__psft_status, 0, $__psft_usage);
    fwrite(STDOUT, "exit $__psft_nonce $__psft_status " . ($__psft_usage['ru_maxrss'] ?? 0) . "\n");
}
