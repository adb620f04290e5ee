import Testing
import Workflow

@Suite struct ArgvTemplateTests {
    @Test("Plain text renders as itself and uses no parameters")
    func plainText() throws {
        for text in ["--verbose", "", "a b c", "/usr/bin/env", "100%", "$HOME", "ünïcødé 🚀"] {
            let template = try ArgvTemplate(text)
            #expect(template.render(["verbose": "x"]) == text)
            #expect(template.parameterNames.isEmpty)
            #expect(template.text == text)
            #expect(template.description == text)
        }
    }

    @Test("A placeholder is replaced by the whole value inside its element")
    func substitution() throws {
        let template = try ArgvTemplate("--date={date}")
        #expect(template.parameterNames == ["date"])
        let hostile = "2024-01-01; rm -rf / 'quoted' \"double\" $(id) `id` && x | y"
        #expect(template.render(["date": hostile]) == "--date=" + hostile)
        #expect(try ArgvTemplate("{date}").render(["date": "two words"]) == "two words")
    }

    @Test("Several placeholders, repeated ones and adjacent ones all render")
    func severalPlaceholders() throws {
        let template = try ArgvTemplate("{a}-{b}/{a}{b}_x9")
        #expect(template.parameterNames == ["a", "b", "a", "b"])
        #expect(template.render(["a": "1", "b": "two"]) == "1-two/1two_x9")
    }

    @Test("A missing value renders as empty")
    func missingValue() throws {
        #expect(try ArgvTemplate("x{gone}y").render([:]) == "xy")
    }

    @Test("Values are not expanded again, even when they look like placeholders")
    func noRecursion() throws {
        #expect(try ArgvTemplate("{a}").render(["a": "{b}", "b": "secret"]) == "{b}")
        #expect(try ArgvTemplate("{a}").render(["a": "{{}}"]) == "{{}}")
    }

    @Test("Doubled braces stand for literal braces")
    func literalBraces() throws {
        let template = try ArgvTemplate("{{date}}")
        #expect(template.parameterNames.isEmpty)
        #expect(template.render(["date": "x"]) == "{date}")
        #expect(try ArgvTemplate("a}}b{{c").render([:]) == "a}b{c")
        #expect(try ArgvTemplate("{{{x}}}").render(["x": "v"]) == "{v}")
        #expect(try ArgvTemplate("{{{x}}}").parameterNames == ["x"])
        #expect(try ArgvTemplate("{{}}").render([:]) == "{}")
    }

    @Test(
        "Malformed templates are refused with a reason",
        arguments: [
            ("{date", "unclosed"), ("--x={a", "unclosed"), ("{", "unclosed"),
            ("a}b", "lone"), ("}", "lone"), ("{a}}", "lone"),
            ("{}", "invalid parameter name"), ("{Bad-Name}", "invalid parameter name"),
            ("{Upper}", "invalid parameter name"), ("{9lives}", "invalid parameter name"),
            ("{a b}", "invalid parameter name"), ("{a{b}", "invalid parameter name"),
            ("{" + String(repeating: "a", count: 65) + "}", "invalid parameter name"),
        ])
    func malformed(text: String, reason: String) {
        let error = #expect(throws: TemplateError.self) { try ArgvTemplate(text) }
        #expect(error?.reason.contains(reason) == true, "\(error?.reason ?? "no error")")
        #expect(error?.description == error?.reason)
    }

    @Test("Parameter names follow [a-z_][a-z0-9_]* up to 64 characters")
    func parameterNames() {
        for valid in ["a", "_", "date", "run_2", "_x9", String(repeating: "a", count: 64)] {
            #expect(ParameterName.isValid(valid), "\(valid)")
        }
        for invalid in ["", "A", "9a", "a-b", "a.b", "a b", "é", String(repeating: "a", count: 65)] {
            #expect(!ParameterName.isValid(invalid), "\(invalid)")
        }
    }

    @Test("Object names follow [A-Za-z0-9][A-Za-z0-9._-]* up to 100 characters")
    func objectNames() {
        for valid in ["a", "Z", "9", "etl-nightly", "load.v2", "A_b-c.d", String(repeating: "x", count: 100)] {
            #expect(ObjectName.isValid(valid), "\(valid)")
        }
        for invalid in ["", "-a", ".hidden", "_a", "a/b", "a b", "..", "ü", String(repeating: "x", count: 101)] {
            #expect(!ObjectName.isValid(invalid), "\(invalid)")
        }
    }
}
