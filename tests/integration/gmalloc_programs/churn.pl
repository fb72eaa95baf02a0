#!/usr/bin/perl
# Churns hashes, arrays and regexes in interpreter threads, then prints a
# summary. Used by test_gmalloc_programs.sh: run plainly and under a preloaded
# malloc, the output must be byte-identical. Each thread has its own
# deterministic generator; what crosses threads (strings through a queue, freed
# by the receiver) is folded into order-free sums, and hashes print sorted.
# usage: churn.pl [SCALE]
use strict;
use warnings;
use threads;
use Thread::Queue;
use Digest::MD5 qw(md5_hex);

my $scale = shift // 1;
my $rounds = 4000 * $scale;
my $workers = 3;

# A linear congruential generator (31 bits, so products stay integers): perl's
# rand() is not reproducible across builds.
sub lcg { my $s = shift; $$s = ($$s * 1103515245 + 12345) % 2147483648; return $$s >> 8 }
sub word {
  my ($s) = @_;
  my $n = 1 + lcg($s) % 20;
  return join '', map { chr(97 + lcg($s) % 26) } 1 .. $n;
}

sub churn {
  my ($index, $q) = @_;
  my $seed = 7919 * ($index + 1);
  my (%table, @order, @lines, %counts);
  my $sent = 0;
  for my $step (1 .. $rounds) {
    my $key = word(\$seed);
    my $action = lcg(\$seed) % 10;
    if ($action < 4) {
      push @order, $key unless exists $table{$key};
      $table{$key} = [ map { word(\$seed) } 1 .. 1 + lcg(\$seed) % 10 ];
    } elsif ($action < 6 && @order) {
      # The oldest key goes: its words become a line.
      push @lines, join ' ', @{ delete $table{ shift @order } };
    } elsif ($action < 8) {
      $q->enqueue(join(',', $index, $step, map { word(\$seed) } 1 .. 1 + lcg(\$seed) % 30));
      $sent++;
    } else {
      my $text = join ' ', @lines > 40 ? @lines[-40 .. -1] : @lines;
      $text =~ s/\b([a-m])(\w*)/\U$1\E$2/g;
      $counts{lc $1}++ while $text =~ /\b(\w)\w{3,}\b/g;
      @lines = grep { !/^[aeiou]/ } @lines;
    }
    splice @lines, 0, 300 if @lines > 600;
  }
  $q->enqueue(undef);
  my $digest = md5_hex(join ';', map { "$_=" . join(',', @{ $table{$_} }) } sort keys %table);
  my $letters = join ',', map { "$_:$counts{$_}" } sort keys %counts;
  return "worker $index: keys " . scalar(keys %table) . " lines " . scalar(@lines) .
         " sent $sent table $digest letters $letters";
}

my $q = Thread::Queue->new();
my @threads = map { threads->create(\&churn, $_, $q) } 0 .. $workers - 1;

# The main thread receives and frees what the workers send.
my ($received, $ends, $fold, %firsts) = (0, 0, 0, ());
while ($ends < $workers) {
  my $item = $q->dequeue();
  if (!defined $item) { $ends++; next }
  $received++;
  my @f = split /,/, $item;
  $fold = ($fold + hex(substr(md5_hex($item), 0, 7))) % 4294967296;
  $firsts{substr($_, 0, 1)}++ for @f[2 .. $#f];
}
print "$_\n" for map { $_->join() } @threads;
print "received $received fold $fold\n";
print join(',', map { "$_:$firsts{$_}" } sort keys %firsts), "\n";

# A large hash built, rewritten by regex and freed in the main thread.
my %big = map { ("k$_" => "v" x ($_ % 61) . $_) } 1 .. 40000 * $scale;
s/(v+)(\d+)$/length($1) . ":" . ($2 * 3)/e for values %big;
print "big ", scalar(keys %big), " ", md5_hex(join "\n", map { "$_ $big{$_}" } sort keys %big), "\n";
%big = ();
exit 0;
