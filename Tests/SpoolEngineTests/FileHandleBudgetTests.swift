import SpoolEngine
import Testing

@Suite("File descriptor budget arithmetic", .timeLimit(.minutes(1)))
struct FileHandleBudgetTests {
    @Test func connectionsAndPartitionsMustFitTogether() {
        let budget = FileHandleBudget(limit: 1024, connections: 100, storageThreads: 8)
        // 64 reserved + 100 connections + 16 for readers in use leave 844: 120 partitions of 7.
        #expect(FileHandleBudget.perPartition == 7)
        #expect(budget.needed(partitions: 0) == 180)
        #expect(budget.partitionCapacity == 120)
        #expect(budget.fits(partitions: 120))
        #expect(!budget.fits(partitions: 121))
        // The default connection limit does not fit a limit of 1024 at all: nothing may be created.
        let tight = FileHandleBudget(limit: 1024, connections: 1024, storageThreads: 8)
        #expect(tight.partitionCapacity == 0)
        #expect(!tight.fits(partitions: 1))
        #expect(tight.shortage(partitions: 1).contains("need 1111 file descriptors"))
        #expect(tight.shortage(partitions: 1).contains("may open 1024 (ulimit -n)"))
    }
}
