/// A record waiting to be appended, seen through borrowed bytes so storage binds them straight
/// into SQLite without a copy.
public protocol AppendRecord {
    func withKeyAndValue<R>(_ body: (_ key: UnsafeRawBufferPointer?, _ value: UnsafeRawBufferPointer) throws -> R) rethrows -> R
}
