import CPlatform

/// How the process's allocator treats LiteProof's large buffers.
public enum ProcessMemory {
    /// Buffers of 1 MiB and more come from mmap and go back to the system when freed. Without
    /// this, glibc raises its mmap threshold after the first large free and keeps freed buffers in
    /// per-thread arenas: `verify` (file checks on every core, then a trial restore) peaked at
    /// 68–78 MiB on the append benchmark instead of 62 MiB. Called once, at the start of `main`.
    public static func returnLargeBuffersWhenFreed() {
        liteproof_mmap_large_buffers(1 << 20)
    }
}
