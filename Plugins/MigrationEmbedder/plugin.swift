import Foundation
import PackagePlugin

/// Embeds the top-level migrations/ folder into the SpoolStorage module at build time.
@main
struct MigrationEmbedder: BuildToolPlugin {
    func createBuildCommands(context: PluginContext, target: Target) throws -> [Command] {
        let root = context.package.directoryURL.appending(path: "migrations")
        var inputs: [URL] = []
        let sets = try FileManager.default.contentsOfDirectory(atPath: root.path).sorted()
        for set in sets {
            let folder = root.appending(path: set)
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: folder.path, isDirectory: &isDirectory), isDirectory.boolValue else {
                continue
            }
            for file in try FileManager.default.contentsOfDirectory(atPath: folder.path).sorted() where file.hasSuffix(".sql") {
                inputs.append(folder.appending(path: file))
            }
        }
        let output = context.pluginWorkDirectoryURL.appending(path: "GeneratedMigrations.swift")
        return [
            .buildCommand(
                displayName: "Embedding \(inputs.count) migrations",
                executable: try context.tool(named: "spool-embed-migrations").url,
                arguments: [output.path] + inputs.map(\.path),
                inputFiles: inputs,
                outputFiles: [output]
            )
        ]
    }
}
