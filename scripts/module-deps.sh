#!/usr/bin/env bash
# Prints, for each top-level module of src/, the other crate modules it names
# (`use crate::x…`, `use crate::{x, y…}` and inline `crate::x::…` paths), so a change to
# the layering can be shown before and after. Names that lib.rs re-exports
# (`pub use state::AppState`) count as the module they come from; other crate-root items
# count as `lib`. Comments are ignored.
#
#   scripts/module-deps.sh            # every module
#   scripts/module-deps.sh auth store # only these
set -euo pipefail
cd "$(dirname "$0")/.."

perl -e '
  use strict; use warnings;
  my %only = map { $_ => 1 } @ARGV;
  my (%module, %reexport);
  for (glob("src/*.rs"), glob("src/*")) {
    $module{$1} = 1 if m{^src/(\w+)(\.rs)?$} && (-d $_ || $2);
  }
  delete @module{qw(lib main)};
  open my $lib, "<", "src/lib.rs" or die;
  while (<$lib>) { $reexport{$2} = $1 while /pub use (\w+)::(\w+)/g }

  my %deps;
  my @files = split /\n/, `find src -name "*.rs" | sort`;
  for my $file (@files) {
    my ($owner) = $file =~ m{^src/(\w+)};
    $owner = "lib" if $owner eq "lib" || $owner eq "main";
    open my $fh, "<", $file or die "$file: $!";
    my $text = do { local $/; <$fh> };
    $text =~ s{//[^\n]*}{}g;
    my @named;
    # Grouped imports: take the first path segment of each item at the top level.
    while ($text =~ /crate::(\{((?:[^{}]++|(?1))*)\})/g) {
      my $group = $2;
      1 while $group =~ s/\{[^{}]*\}//g;
      push @named, map { /^\s*(\w+)/ ? $1 : () } split /,/, $group;
    }
    push @named, $text =~ /crate::(\w+)/g;
    for my $name (@named) {
      my $target = $module{$name} ? $name : ($reexport{$name} // "lib");
      $deps{$owner}{$target} = 1 unless $target eq $owner;
    }
    $deps{$owner} //= {};
  }
  for my $owner (sort keys %deps) {
    next if %only && !$only{$owner};
    printf "%-10s -> %s\n", $owner, join(" ", sort keys %{ $deps{$owner} }) || "(nothing)";
  }
' "$@"
