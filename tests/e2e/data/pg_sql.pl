# pg_sql.pl: SQLite's SQL as PostgreSQL 15 takes it, for lib.sh's df_pg_sql (the e2e tests'
# DAGFLOW_TEST_DB=pg runs): every subquery in FROM gets an alias when it has none (SQLite and
# PostgreSQL 16 do without), nested ones too. Reads the SQL on stdin, prints it on stdout.
use strict;
use warnings;

my $n = 0;
my $kw = qr/(?:WHERE|GROUP|ORDER|LIMIT|UNION|JOIN|LEFT|INNER|CROSS|ON|HAVING|WINDOW|EXCEPT|INTERSECT)\b/i;

sub fix {
    my ($s) = @_;
    my $out = '';
    while ($s =~ /\bFROM\s*\(/gi) {
        my $open = pos($s) - 1;
        my ($depth, $i) = (0, $open);
        for (; $i < length $s; $i++) {
            my $c = substr($s, $i, 1);
            $depth++ if $c eq '(';
            $depth-- if $c eq ')';
            last if $depth == 0;
        }
        last if $i >= length $s;
        my $inner = fix(substr($s, $open + 1, $i - $open - 1));
        my $rest = substr($s, $i + 1);
        my $alias = ($rest =~ /^\s*(?:AS\b|(?!$kw)[A-Za-z_])/i) ? '' : ' AS df_sub' . ++$n;
        $out .= substr($s, 0, $open) . '(' . $inner . ')' . $alias;
        $s = $rest;
        pos($s) = 0;
    }
    return $out . $s;
}

local $/;
print fix(<STDIN>);
