"""How the kernel reads a value written to a numeric sysctl file.

One grammar, used by the namespace model and by every rule: a pod's
``securityContext.sysctls`` value, a CNI tuning value, a ``sysctl -w`` or
``echo > /proc/sys/...`` in a container, and ``node.sysctls`` of the
configuration all go through ``kernel_reads``.

What reaches the kernel (``data``) depends on the writer:

* runc writes a pod sysctl's value as-is (``sysctlFile.WriteString(value)``,
  runc internal/sys/sysctl_linux.go:44 @ 76d9cf5da568); so does the CNI
  tuning plugin (``os.WriteFile(fileName, []byte(value))``,
  containernetworking/plugins plugins/meta/tuning/tuning.go:369-370 @
  3d27709faaa4).  Both retry short writes (Go's ``File.Write`` loops).
* procps ``sysctl -w key=value`` strips blanks around the value and writes
  ``value + "\\n"`` (procps src/sysctl.c ``parse_setting_line``: lstrip/
  rstrip; ``WriteSetting``: ``fprintf(fp, "%s\\n", value)``), through stdio,
  which retries short writes.
* ``echo v > file`` writes ``v`` and a newline.

How the kernel reads it (Linux kernel/sysctl.c; line numbers from the
5.4.59 tree, BoKyoungHan/linux-5.4.59-vanilla @ 8b9bd8c4, the same code in
the 6.x trees and on the 6.18 test kernel):

* ``__do_proc_dointvec`` (:2333): a zero-byte write changes nothing and
  succeeds; at most PAGE_SIZE-1 bytes are read; for each element of the
  vector (one for somaxconn, two for ip_local_port_range) blanks are skipped
  (``proc_skip_spaces``, ``isspace``) and a number is read; only blanks
  (``first`` still set) is EINVAL.  After the last element the write
  consumes what it read (``*lenp -= left``); the writer retries the rest at
  a non-zero file position, which strict-write kernels ignore
  (``proc_first_pos_non_zero_ignore`` :2084, ``sysctl_writes_strict =
  SYSCTL_WRITES_STRICT``): only the first number(s) count.
* ``proc_get_long`` (:2199): an optional ``-``, then a digit (``+5`` is
  EINVAL), then ``strtoul_lenient(p, &p, 0, val)`` -- base 0:
  ``_parse_integer_fixup_radix`` (lib/kstrtox.c:24): ``0x``/``0X`` followed
  by a hex digit is hexadecimal, any other leading ``0`` octal, else
  decimal; parsing stops at the first character that is not a digit of the
  base (``08`` reads ``0``, then ``8`` is a bad trailer).  A number of 21
  characters or more is EINVAL (``len == TMPBUFLEN - 1``); the character
  after it must be a space, tab or newline (``proc_wspace_sep``, :2331),
  so ``42\\r`` is EINVAL; an overflow of 64 bits is EINVAL.
* ``do_proc_dointvec_conv`` (:2289): above INT_MAX (or below INT_MIN) is
  EINVAL; ``do_proc_dointvec_minmax_conv`` (:2664) then checks extra1/extra2.
  ``-0`` is 0.
* ``proc_dou8vec_minmax`` (tcp_syncookies from 5.13; 5.15.24 tree,
  yhuan416/linux-5.15.24 @ 0ea83df2, kernel/sysctl.c:1103 and
  net/ipv4/sysctl_net_ipv4.c:956-960): a sign (even ``-0``) is EINVAL, above
  255 is refused (EINVAL: ``do_proc_douintvec_w`` turns the range error
  into EINVAL), and the rest of the write is consumed and ignored.

Older kernels (each fact from the tree named):

* before 5.1, ``proc_get_long`` used ``simple_strtoul`` (no overflow
  check: wraps modulo 2**64) and ``do_proc_dointvec_minmax_conv`` stored
  ``*negp ? -*lvalp : *lvalp`` truncated to an int before the range check
  (5.0.1 tree VVvector/linux-5.0.1 @ 0fa9cb14, kernel/sysctl.c:2138, :2582;
  the 5.1.9 tree lastweek/linux-AsyncXing-5.1.9 @ 260f0b7e has the checked
  forms at :2204, :2653);
* before 4.1, ``do_proc_dointvec_conv`` did not check INT_MAX either
  (4.0.5 tree zhanglin496/linux-4.0.5 @ ecb857bb; checked in 4.1.3,
  fsl-jyt/linux-4.1.3 @ 7f8506ec, kernel/sysctl.c:1973);
* strict writes are the default from 4.5 (inferred); 4.4.1 and 4.1.3
  default to SYSCTL_WRITES_WARN (zanpocc/linux-4.4.1 @ d4321c96
  kernel/sysctl.c:176), 4.4.121 to STRICT (a stable backport,
  AnTuanHa/linux-stable-v4.4.121 @ 2fbc9313 kernel/sysctl.c:177), 3.10 has
  no such setting: without STRICT a retried rest is read again from its
  start, so the last number wins;
* the handler of each sysctl per version: ``somaxlint.facts``
  (``somaxconn_handler_options``, ``SYNCOOKIES_U8_SINCE``).
"""

from __future__ import annotations

TYPE_CHECKING = False  # (typing is imported by type checkers only: start-up)
if TYPE_CHECKING:
    from typing import List, Optional, Tuple

from somaxlint import facts
from somaxlint.records import record

PAGE_SIZE = 4096
TMPBUFLEN = 22
INT_MAX = 2**31 - 1
INT_MIN = -(2**31)
UINT_MAX = 2**32 - 1
ULONG_MOD = 2**64

# lib/ctype.c: isspace() is true for \t \n \v \f \r, space and 0xa0
_SPACE = frozenset(b" \t\n\v\f\r\xa0")
# proc_wspace_sep[]: what may follow a number
_TRAILERS = frozenset(b" \t\n")
_HEX = frozenset(b"0123456789abcdefABCDEF")

# writers
RAW = "raw"  # runc, the CNI tuning plugin: the value as-is
SYSCTL_TOOL = "sysctl"  # procps sysctl -w / sysctl.conf: blanks stripped, newline added


@record(frozen=True)
class Handler:
    """How one sysctl is written: ``int`` (proc_dointvec),
    ``int_minmax`` (proc_dointvec_minmax with extra1/extra2), ``u8_minmax``
    (proc_dou8vec_minmax); ``count`` ints in the vector."""

    kind: str
    low: Optional[int] = None
    high: Optional[int] = None
    count: int = 1
    source: str = ""


@record(frozen=True)
class Outcome:
    """What one kernel does with one write.  ``values`` is what the kernel
    stores (empty: nothing -- refused, or a zero-byte write); ``errno`` is
    what the writer is told ("EINVAL"), None on success; ``note`` says how
    the text was read, or why it is refused; ``when`` names the kernels
    this outcome is for when the run's kernel allows several."""

    values: Tuple[int, ...]
    errno: Optional[str]
    note: str
    when: str = ""

    @property
    def value(self) -> Optional[int]:
        return self.values[0] if self.values else None

    @property
    def refused(self) -> bool:
        return self.errno is not None and not self.values


@record(frozen=True)
class Reading:
    """The kernel's reading of one write: one outcome per kernel behaviour
    the run allows (the first is the one assumed)."""

    name: str
    data: str
    outcomes: Tuple[Outcome, ...]

    @property
    def first(self) -> Outcome:
        return self.outcomes[0]

    @property
    def value(self) -> Optional[int]:
        return self.first.value

    @property
    def refused(self) -> bool:
        """Refused by every possible kernel."""
        return all(o.refused for o in self.outcomes)

    @property
    def maybe_refused(self) -> bool:
        return any(o.refused for o in self.outcomes)

    @property
    def empty(self) -> bool:
        """Nothing written (a zero-byte write): nothing changes, no error."""
        return all(not o.values and o.errno is None for o in self.outcomes)

    @property
    def certain(self) -> bool:
        return len({(o.values, o.errno) for o in self.outcomes}) == 1


# --------------------------------------------------------------------------
# Which handler, on which kernel
# --------------------------------------------------------------------------


@record(frozen=True)
class Behaviour:
    """The facts about one kernel (or one possibility for the run's kernel)
    that change how a write is read."""

    label: str  # the kernels it stands for, "" when the only possibility
    kernel: Optional[Tuple[int, int, int]]  # None: unknown (5.4 or later assumed)
    checked_parse: bool  # strtoul_lenient, checked minmax conversion (5.1+)
    int_checks: bool  # do_proc_dointvec_conv checks INT_MAX (4.1+)
    strict_writes: bool  # a retried rest at a non-zero position is ignored (4.5+)
    somaxconn_minmax: bool  # proc_dointvec_minmax (3.11+), else proc_dointvec
    somaxconn_high: Optional[int]  # its extra2: 65535 (3.11 to 4.0), else none


MODERN = Behaviour("", None, True, True, True, True, None)


def behaviours(kernel: Optional[Tuple[int, int, int]], kernel_text: Optional[str] = None) -> List[Behaviour]:
    """The kernel behaviours the run allows: one for a known kernel (two
    or more where the patch level decides and is not known), and the
    modern one for an unknown kernel (5.4 or later, as the rest of the
    model assumes; 5.4-5.12 and 5.13+ differ only for tcp_syncookies,
    which ``handler_variants`` splits)."""
    if kernel is None:
        return [MODERN]
    out: List[Behaviour] = []
    for minmax, high, bound_when in facts.somaxconn_handler_options(kernel, kernel_text):
        for strict, strict_when in facts.strict_write_options(kernel):
            out.append(
                Behaviour(
                    ", ".join(w for w in (bound_when, strict_when) if w),
                    kernel,
                    checked_parse=kernel[:2] >= facts.SYSCTL_CHECKED_PARSE_SINCE,
                    int_checks=kernel[:2] >= facts.SYSCTL_INT_CHECKS_SINCE,
                    strict_writes=strict,
                    somaxconn_minmax=minmax,
                    somaxconn_high=high,
                )
            )
    return out


def handler_variants(name: str, behaviour: Behaviour) -> List[Tuple[Handler, str]]:
    """(handler, the kernels it is for) of ``name`` under ``behaviour``;
    empty when the sysctl is not modelled."""
    kernel = behaviour.kernel
    if name == "net.core.somaxconn":
        if behaviour.somaxconn_minmax:
            return [(Handler("int_minmax", 0, behaviour.somaxconn_high, source=facts.SOMAXCONN_HANDLER_SOURCE), "")]
        return [(Handler("int", source=facts.SOMAXCONN_HANDLER_SOURCE), "")]
    if name == "net.ipv4.tcp_syncookies":
        u8 = Handler("u8_minmax", 0, 255, source=facts.SYNCOOKIES_HANDLER_SOURCE)
        as_int = Handler("int", source=facts.SYNCOOKIES_HANDLER_SOURCE)
        if kernel is None:
            return [(u8, "Linux 5.13 or later"), (as_int, "Linux 5.4 to 5.12")]
        return [(u8 if kernel[:2] >= facts.SYNCOOKIES_U8_SINCE else as_int, "")]
    if name == "net.ipv4.ip_unprivileged_port_start":
        return [(Handler("int_minmax", 0, 65535, source="ipv4_privileged_ports(): proc_dointvec_minmax, 0 to 65535"), "")]
    if name == "net.ipv4.ip_local_port_range":
        return [(Handler("int_minmax", 1, 65535, count=2, source="ipv4_local_port_range(): proc_dointvec_minmax, two ints 1 to 65535"), "")]
    if name == "net.ipv4.tcp_max_syn_backlog":
        return [(Handler("int", source="proc_dointvec"), "")]
    return []


# --------------------------------------------------------------------------
# The grammar
# --------------------------------------------------------------------------


def written_data(value: str, writer: str = RAW) -> str:
    """The bytes a writer sends for ``value`` (as text)."""
    if writer == SYSCTL_TOOL:
        return value.strip(" \t") + "\n"
    return value


def kernel_reads(name: str, data: str, kernel=None, kernel_text: Optional[str] = None) -> Optional[Reading]:
    """How the kernel(s) the run allows read ``data`` written to ``name``;
    None when somaxlint does not model that sysctl."""
    outcomes: List[Outcome] = []
    seen = set()
    for behaviour in behaviours(kernel, kernel_text):
        for handler, when in handler_variants(name, behaviour):
            outcome = read_with(handler, data, behaviour)
            label = ", ".join(w for w in (behaviour.label, when) if w)
            key = (outcome.values, outcome.errno, outcome.note)
            if key in seen:
                continue
            seen.add(key)
            outcomes.append(Outcome(outcome.values, outcome.errno, outcome.note, label))
    if not outcomes:
        return None
    if len({(o.values, o.errno) for o in outcomes}) == 1:
        outcomes = [Outcome(outcomes[0].values, outcomes[0].errno, outcomes[0].note)]
    return Reading(name, data, tuple(outcomes))


def read_with(handler: Handler, data: str, behaviour: Optional[Behaviour] = None) -> Outcome:
    """One kernel's reading of ``data``: what it stores and what the
    writer is told."""
    if behaviour is None:
        behaviour = MODERN
    raw = data.encode("utf-8", "surrogateescape")
    if not raw:
        return Outcome((), None, "an empty value: nothing is written, so nothing changes")
    notes: List[str] = []
    stored: Tuple[int, ...] = ()
    rest = raw
    while True:
        result = _one_write(handler, rest, behaviour)
        if isinstance(result, str):
            if stored:
                # an earlier chunk was stored: the writer still sees an error
                return Outcome(stored, "EINVAL", "; ".join(notes + [f"then the rest of the write is refused: {result}"]))
            return Outcome((), "EINVAL", result)
        values, consumed, chunk_notes = result
        stored = values
        notes.extend(n for n in chunk_notes if n not in notes)
        left = rest[consumed:]
        if not left:
            break
        if handler.kind == "u8_minmax" or behaviour.strict_writes:
            ignored = _ignored_rest(left)
            if ignored:
                notes.append(ignored)
            break
        # a kernel without strict writes reads the retried rest anew
        notes.append("the writer retries the rest of the write, which this kernel reads again from its start (no strict writes)")
        rest = left
    return Outcome(stored, None, "; ".join(notes))


def _ignored_rest(left: bytes) -> str:
    text = left.decode("utf-8", "replace").strip()
    return f"the rest of the write ({text!r}) is ignored: only the first number is read" if text else ""


def _one_write(handler: Handler, buf: bytes, behaviour: Behaviour):
    """One write(2) of ``buf``: (values, bytes consumed, notes), or the
    reason it is refused."""
    buf = buf[: PAGE_SIZE - 1]  # the kernel reads at most PAGE_SIZE-1 bytes
    pos = 0
    values: List[int] = []
    notes: List[str] = []
    for index in range(handler.count):
        skipped = 0
        while pos < len(buf) and buf[pos] in _SPACE:
            pos += 1
            skipped += 1
        if skipped and index == 0 and pos < len(buf):
            notes.append("leading blanks are skipped")
        if pos >= len(buf):
            break
        parsed = _get_long(buf[pos:], behaviour)
        if isinstance(parsed, str):
            return parsed
        negative, magnitude, length, note = parsed
        if note:
            notes.append(note)
        converted = _convert(handler, negative, magnitude, behaviour)
        if isinstance(converted, str):
            return converted
        value, note = converted
        if note:
            notes.append(note)
        values.append(value)
        pos += length
    if not values:
        return "only blanks: no number"
    # after the last element, trailing blanks are consumed
    while pos < len(buf) and buf[pos] in _SPACE:
        pos += 1
    if handler.kind == "u8_minmax":
        # do_proc_douintvec_w leaves *lenp alone: the whole write is consumed
        ignored = _ignored_rest(buf[pos:])
        if ignored:
            notes.append(ignored)
        pos = len(buf)
    if handler.count > 1 and len(values) < handler.count:
        notes.append(f"only {len(values)} of {handler.count} numbers: the others keep their current values")
    return tuple(values), pos, [n for n in notes if n]


def _get_long(text: bytes, behaviour: Behaviour):
    """proc_get_long(): (negative, magnitude, characters read, note) or the
    reason for EINVAL."""
    size = len(text)
    tmp = text[: TMPBUFLEN - 1]
    p = 0
    negative = False
    if tmp[:1] == b"-" and size > 1:
        negative = True
        p = 1
    if p >= len(tmp) or not (0x30 <= tmp[p] <= 0x39):
        shown = text[:12].decode("utf-8", "replace")
        return f"{shown!r} does not start with a digit (or '-' and a digit)"
    start = p
    base = 10
    if tmp[p] == 0x30:
        if len(tmp) > p + 2 and tmp[p + 1] in b"xX" and tmp[p + 2] in _HEX:
            base = 16
            p += 2
        else:
            base = 8
    value = 0
    digits = 0
    while p < len(tmp):
        c = tmp[p]
        digit = _digit(c)
        if digit is None or digit >= base:
            break
        value = value * base + digit
        digits += 1
        p += 1
    if value >= ULONG_MOD:
        if behaviour.checked_parse:
            return "the number does not fit in 64 bits"
        value %= ULONG_MOD
    length = p
    if length == TMPBUFLEN - 1:
        return "a number of 21 characters or more is refused (TMPBUFLEN)"
    if length < size and tmp[length] not in _TRAILERS:
        bad = chr(tmp[length]) if tmp[length] < 0x80 else f"\\x{tmp[length]:02x}"
        if base == 8 and bad in "89":
            return f"a leading 0 makes {text[:length + 1].decode('utf-8', 'replace')!r} octal, and {bad!r} is not an octal digit"
        if base == 8 and bad in "xX":
            return f"{text[:length + 1].decode('utf-8', 'replace')!r}: 0x must be followed by a hexadecimal digit (else it is the octal 0 and then {bad!r})"
        return f"{bad!r} after the number: only a space, tab or newline may follow it"
    note = ""
    literal = text[start:length].decode("ascii")
    if base == 16:
        note = f"{literal} is hexadecimal: {value}"
    elif base == 8 and literal.strip("0"):
        note = f"a leading 0 makes {literal} octal: {value}"
    return negative, value, length, note


def _digit(c: int) -> Optional[int]:
    if 0x30 <= c <= 0x39:
        return c - 0x30
    if 0x61 <= c <= 0x66:
        return c - 0x61 + 10
    if 0x41 <= c <= 0x46:
        return c - 0x41 + 10
    return None


def _to_int32(value: int) -> int:
    value &= UINT_MAX
    return value - 2**32 if value > INT_MAX else value


def _convert(handler: Handler, negative: bool, magnitude: int, behaviour: Behaviour):
    """The conv callback: (the int stored, a note), or why it is refused."""
    shown = f"-{magnitude}" if negative else str(magnitude)
    if handler.kind == "u8_minmax":
        if negative:
            return "a sign is refused (an unsigned value)"
        if magnitude > UINT_MAX:
            return "above 4294967295 (UINT_MAX)"
        if magnitude > (handler.high if handler.high is not None else 255):
            return f"above {handler.high} (the maximum)"
        return magnitude, ""
    checked = behaviour.int_checks if handler.kind == "int" else behaviour.checked_parse
    note = ""
    if checked:
        if negative and magnitude > INT_MAX + 1:
            return "below -2147483648 (INT_MIN)"
        if not negative and magnitude > INT_MAX:
            return "above 2147483647 (INT_MAX)"
        value = -magnitude if negative else magnitude
    else:
        # `*negp ? -*lvalp : *lvalp` stored in an int, unchecked
        value = _to_int32(-magnitude if negative else magnitude)
        if value != (-magnitude if negative else magnitude):
            note = f"this kernel does not check the range: {shown} is truncated to the int {value}"
    if handler.kind == "int_minmax":
        if handler.low is not None and value < handler.low:
            return (note + ", " if note else "") + f"below {handler.low} (the minimum)"
        if handler.high is not None and value > handler.high:
            return (note + ", " if note else "") + f"above {handler.high} (the maximum on this kernel)"
    return value, note


def describe(reading: Reading) -> str:
    """A phrase for messages, after "the kernel": what it does with the
    write on each kernel the run allows."""
    parts = []
    for outcome in reading.outcomes:
        when = f" on {outcome.when}" if outcome.when else ""
        if outcome.refused:
            parts.append(f"refuses it{when} ({outcome.errno}: {outcome.note})")
        elif outcome.values:
            shown = " ".join(str(v) for v in outcome.values)
            parts.append(f"reads it as {shown}{when}" + (f" ({outcome.note})" if outcome.note else ""))
        else:
            parts.append(f"sets nothing{when} ({outcome.note})")
    return "; ".join(parts)
