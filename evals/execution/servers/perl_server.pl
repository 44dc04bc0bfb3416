# The Perl fork server: loads the modules test programs use once, then forks one child per program.
#
# Started by the supervisor (supervisor.py) inside the worker's sandbox. Protocol, one line each way:
#   in:  "<nonce>\t<dir>\t<file>\t<stdout fifo>\t<stderr fifo>[\t<unused>\t<stdin file>]"
#   out: "pid <nonce> <child pid>", then "exit <nonce> <wait status>" when the child has ended.
# The supervisor accepts only answers that carry the request's nonce.
# The child makes a new session, takes the stdin file (default /dev/null) and the two FIFOs as
# stdin/stdout/stderr, moves into
# <dir>, then stops itself: the supervisor sets its resource limits (prlimit) and continues it. It then
# runs <file> as `perl <file>` would: a compile or runtime error prints the message and exits 255.
# Written here because no CPAN module does this (a preforking server for untrusted one-shot scripts).
use strict;
use warnings;
use POSIX ();
BEGIN {
    # What MBXP's Perl tests and typical solutions load; a missing one is simply not preloaded.
    for my $m (qw(Data::Compare List::Util Scalar::Util POSIX Storable)) { eval "require $m; 1" }
}

$| = 1;
while (my $line = <STDIN>) {
    chomp $line;
    my ($nonce, $dir, $file, $out, $err, undef, $in) = split /\t/, $line;
    $in = '/dev/null' unless defined $in && length $in;
    my $pid = fork();
    if (!defined $pid) { print "error fork: $!\n"; next; }
    if ($pid == 0) {
        POSIX::setsid();
        close(STDIN);  # an explicit close resets $. (else messages would end ", <STDIN> line N")
        open(STDIN, '<', $in) or POSIX::_exit(126);
        open(STDOUT, '>', $out) or POSIX::_exit(126);
        open(STDERR, '>', $err) or POSIX::_exit(126);
        select(STDOUT); $| = 0;  # not STDOUT->autoflush: that loads IO::Handle in every child (~3 ms)
        chdir $dir or POSIX::_exit(126);
        $ENV{HOME} = $ENV{TMPDIR} = $dir;
        kill 'STOP', $$;
        $0 = $file;
        @ARGV = ();
        $@ = '';
        do "./$file";
        if ($@) { print STDERR $@; exit 255; }
        exit 0;
    }
    print "pid $nonce $pid\n";
    waitpid($pid, 0);
    print "exit $nonce $?\n";
}
