package resources

import (
	"bufio"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// parseOnlineCPUs counts the CPUs in the kernel's CPU list format, as in
// /sys/devices/system/cpu/online: "0-3,8,10-11".
func parseOnlineCPUs(text string) (int, error) {
	text = strings.TrimSpace(text)
	if text == "" {
		return 0, errors.New("empty CPU list")
	}
	var rs []Range
	for elem := range strings.SplitSeq(text, ",") {
		b, e, isRange := strings.Cut(elem, "-")
		if !isRange {
			e = b
		}
		begin, err1 := parseUint(b)
		end, err2 := parseUint(e)
		if err1 != nil || err2 != nil || begin > end {
			return 0, fmt.Errorf("bad CPU list element %q", elem)
		}
		rs = append(rs, Range{begin, end})
	}
	n := coalesce(rs).Count()
	if n > 1<<20 {
		return 0, fmt.Errorf("implausible CPU count %d", n)
	}
	return int(n), nil
}

// parseMemTotal returns MemTotal in bytes from /proc/meminfo text
// ("MemTotal:       16318460 kB").
func parseMemTotal(text string) (uint64, error) {
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), "MemTotal:")
		if !ok {
			continue
		}
		fields := strings.Fields(rest)
		if len(fields) != 2 || fields[1] != "kB" {
			return 0, fmt.Errorf("unexpected MemTotal line %q", sc.Text())
		}
		kb, err := strconv.ParseUint(fields[0], 10, 64)
		if err != nil || kb > 1<<53 {
			return 0, fmt.Errorf("unexpected MemTotal value %q", fields[0])
		}
		return kb * 1024, nil
	}
	return 0, errors.New("no MemTotal line")
}
