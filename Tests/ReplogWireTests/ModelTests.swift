import ReplogModel
import Testing

@Suite struct ClusterIDTests {
    @Test func roundTripsTheCanonicalForm() throws {
        let text = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"
        let id = try #require(ClusterID(text))
        #expect(id.description == text)
        #expect(id.high == 0x0f1e_2d3c_4b5a_6978)
        #expect(id.low == 0x8796_a5b4_c3d2_e1f0)
    }

    @Test func refusesMalformedText() {
        #expect(ClusterID("not-a-uuid") == nil)
        #expect(ClusterID("0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f") == nil)
    }
}
