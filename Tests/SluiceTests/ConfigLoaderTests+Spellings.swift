import Foundation
import Policy
import Testing

@testable import Sluice

extension ConfigLoaderTests {
    @Test("Names and compared values not in Unicode NFC are problems: they could never match a request")
    func nonNFCNames() {
        let problems = Self.problems(
            #"""
            {
              pipelines: { p: { params: { city: { type: "choice", values: ["Ko\u0308ln", "Bonn"] }, other: {} },
                                tasks: { t: { run: ["/bin/true"] } } } },
              roles: {
                "\u212Aops": { users: ["Jo\u0308rg"], groups: ["A\u0308rzte"],
                               grants: [{ pipelines: ["p"], verbs: ["view"], params: { other: ["a\u037Eb"] } }] },
              },
            }
            """#)
        Self.expectProblem(problems, at: "pipelines.p.params.city.values[0]", containing: "not in Unicode NFC")
        Self.expectProblem(problems, at: "roles.\u{212A}ops", containing: "not in Unicode NFC")
        Self.expectProblem(problems, at: "roles.\u{212A}ops.users[0]", containing: "not in Unicode NFC")
        Self.expectProblem(problems, at: "roles.\u{212A}ops.groups[0]", containing: "not in Unicode NFC")
        Self.expectProblem(problems, at: "roles.\u{212A}ops.grants[0].params.other[0]", containing: "not in Unicode NFC")
    }

    @Test("Loaded roles and grants hold the configuration's bytes")
    func loadedNamesAreBytes() throws {
        let config = try Self.load(
            #"{ pipelines: { p: { params: { city: {} }, tasks: { t: { run: ["/bin/true"] } } } }, roles: { ops: { users: ["Jörg"], grants: [{ pipelines: ["p"], verbs: ["trigger"], params: { city: ["Köln"] } }] } } }"#
        )
        let role = try #require(config.policy.roles.first)
        #expect(role.users == ["Jörg"])
        #expect(!role.users.contains("Jo\u{308}rg"))
        #expect(role.grants[0].parameters["city"] == .oneOf(["Köln"]))
        #expect(!config.policy.decide(Subject(user: "Jörg"), .trigger, pipeline: "p", parameters: ["city": "Ko\u{308}ln"]).isAllowed)
    }
}
