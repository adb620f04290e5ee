import Testing
import Workflow

@Suite struct ParameterTypeTests {
    private func check(_ type: ParameterType, _ value: String) -> String? {
        if case .success(let canonical) = type.canonical(value) { return canonical }
        return nil
    }

    @Test(
        "Integers are canonical, range-checked, and refuse anything but plain digits",
        arguments: [
            ("7", "7"), ("007", "7"), ("+5", "5"), ("-3", nil), ("11", nil), ("1e1", nil), ("0x5", nil), (" 5", nil), ("5.0", nil),
            ("", nil),
            ("99999999999999999999", nil),
        ] as [(String, String?)])
    func integer(value: String, expected: String?) {
        #expect(self.check(.integer(min: 0, max: 10), value) == expected)
    }

    @Test(
        "Floats are finite decimals within the range; inf, nan and hex are refused",
        arguments: [
            ("1.5", "1.5"), ("2", "2"), ("2.0", "2"), ("1e0", "1"), ("inf", nil), ("nan", nil), ("0x1", nil), ("100", nil), ("-0.5", nil),
        ] as [(String, String?)])
    func number(value: String, expected: String?) {
        #expect(self.check(.number(min: 0, max: 10), value) == expected)
    }

    @Test(
        "Dates must be real calendar days in YYYY-MM-DD",
        arguments: [
            ("2024-02-29", true), ("2023-02-29", false), ("2024-13-01", false), ("2024-1-01", false), ("2024-04-31", false),
            ("2024-04-30", true), ("24-04-30", false), ("2024-04-30T00:00:00Z", false), ("２０２４-04-30", false),
        ])
    func date(value: String, valid: Bool) {
        #expect((self.check(.date, value) != nil) == valid)
    }

    @Test("Date-times need a zone and are canonicalised to UTC")
    func datetime() {
        #expect(self.check(.datetime, "2026-11-23T13:00:00+01:00") == "2026-11-23T12:00:00Z")
        #expect(self.check(.datetime, "2026-11-23T12:00:00") == nil)
        #expect(self.check(.datetime, "yesterday") == nil)
        // Foundation's parser ignores trailing text; these must still be refused.
        for junk in ["2026-11-23T12:00:00Zjunk", "2026-11-23T12:00:00Z trailing", "2026-11-23T12:00:00+01:00x", "2026-11-23T12:00:00+0100"]
        {
            #expect(self.check(.datetime, junk) == nil, "\(junk)")
        }
        #expect(self.check(.datetime, "2026-11-23t12:00:00z") == nil)
        #expect(self.check(.datetime, "2026-11-23T12:00:00.250Z") != nil)
    }

    @Test("Booleans, choices, lists and string lengths")
    func others() {
        #expect(self.check(.boolean, "TRUE") == "true")
        #expect(self.check(.boolean, "yes") == nil)
        #expect(self.check(.choice(["staging", "prod"]), "prod") == "prod")
        #expect(self.check(.choice(["staging", "prod"]), "Prod") == nil)
        #expect(self.check(.list(maxItems: 3), " a, b ,c") == "a,b,c")
        #expect(self.check(.list(maxItems: 3), "a,,b") == nil)
        #expect(self.check(.list(maxItems: 2), "a,b,c") == nil)
        #expect(self.check(.string(minLength: 2, maxLength: 3), "ab") == "ab")
        #expect(self.check(.string(minLength: 2, maxLength: 3), "abcd") == nil)
    }

    @Test("resolveParameters reports a type error per field and returns canonical values")
    func resolve() throws {
        let pipeline = PipelineDefinition(
            name: "p",
            parameters: [
                ParameterSpec(name: "days", type: .integer(min: 1, max: 7)),
                ParameterSpec(name: "env", type: .choice(["staging", "prod"])),
                ParameterSpec(name: "on", type: .date),
            ], tasks: [TaskDefinition(name: "t", run: [try ArgvTemplate("/bin/true")])])
        #expect(try pipeline.resolveParameters(["days": "03", "env": "prod"]) == ["days": "3", "env": "prod"])
        #expect(
            throws: ParameterErrors(fields: [
                "days": "must be at most 7", "env": "must be one of: staging, prod", "on": "must be a date, YYYY-MM-DD",
            ])
        ) {
            try pipeline.resolveParameters(["days": "8", "env": "dev", "on": "2024-02-30"])
        }
    }
}
