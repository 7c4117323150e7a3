// Command bridge checks that cgo (through ohnix's cgo_wrapper.h) and raw syscalls
// (through the table ohnix generated from the target's kernel headers) see the same
// process: the same pid and the same uname machine.
package main

/*
#cgo CFLAGS: -I${SRCDIR}/gen
#include "cgo_wrapper.h"
*/
import "C"

import (
	"fmt"
	"os"
	"syscall"
	"unsafe"

	"example.org/bridge/syscalls"
)

func rawPid() int {
	pid, _, _ := syscall.RawSyscall(uintptr(syscalls.SYS_GETPID), 0, 0, 0)
	return int(pid)
}

func rawMachine() (string, error) {
	var u syscall.Utsname
	_, _, errno := syscall.RawSyscall(uintptr(syscalls.SYS_UNAME), uintptr(unsafe.Pointer(&u)), 0, 0)
	if errno != 0 {
		return "", errno
	}
	b := make([]byte, 0, len(u.Machine))
	for _, c := range u.Machine {
		if c == 0 {
			break
		}
		b = append(b, byte(c))
	}
	return string(b), nil
}

func cgoMachine() string {
	buf := make([]byte, 65)
	if C.ohnix_uname_machine((*C.char)(unsafe.Pointer(&buf[0])), C.size_t(len(buf))) != 0 {
		return ""
	}
	return C.GoString((*C.char)(unsafe.Pointer(&buf[0])))
}

func main() {
	cgoPid := int(C.ohnix_getpid())
	sysPid := rawPid()
	machine, err := rawMachine()
	if err != nil {
		fmt.Fprintln(os.Stderr, "uname syscall failed:", err)
		os.Exit(2)
	}
	cMachine := cgoMachine()
	fmt.Printf("product %s (%s)\n", C.OHNIX_PRODUCT, C.OHNIX_TARGET_TRIPLE)
	fmt.Printf("pid: cgo=%d syscall(SYS_GETPID=%d)=%d\n", cgoPid, syscalls.SYS_GETPID, sysPid)
	fmt.Printf("machine: cgo=%s syscall(SYS_UNAME=%d)=%s\n", cMachine, syscalls.SYS_UNAME, machine)
	if cgoPid != sysPid || cMachine != machine {
		fmt.Println("MISMATCH")
		os.Exit(1)
	}
	fmt.Println("agree")
}
