"""Bridges from OpenHarmony's kernel/libc to other toolchains (Go syscall tables, ...)."""
