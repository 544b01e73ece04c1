import CheckpointCore
import CheckpointSurgery

/// The `ckpt rank --plot` figure: on the left every module's spectrum σ/σ₁ (log scale), coloured by
/// module type with the type's geometric mean drawn bold; on the right the mean entropy effective rank
/// of each (layer, module type) as a heatmap, with the value printed in each cell.
struct RankPlot {
    let report: RankReport

    static let palette = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22", "#7f7f7f"]
    /// Decades the log axis spans: enough for the smallest σᵢ/σ₁ of the adapter, 1 to 6.
    var floorDecades: Double {
        let smallest = report.modules.compactMap { module -> Double? in
            guard let first = module.spectrum.sigma.first, first > 0, let last = module.spectrum.sigma.last(where: { $0 > 0 }) else { return nil }
            return last / first
        }.min() ?? 0.1
        return min(max((-log10(smallest)).rounded(.up), 1), 6)
    }

    func svg() -> String {
        let types = report.byType.map(\.key)
        let layers = report.byLayer.map(\.key)
        let cell = max(12.0, min(30.0, 380.0 / Double(max(layers.count, 1))))
        let heatHeight = cell * Double(layers.count)
        let height = max(560.0, 180 + heatHeight + 70)
        let width = 1240.0
        var out = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
        out += "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(n(width))\" height=\"\(n(height))\" viewBox=\"0 0 \(n(width)) \(n(height))\" font-family=\"DejaVu Sans, Helvetica, Arial, sans-serif\">\n"
        out += "<rect width=\"100%\" height=\"100%\" fill=\"#ffffff\"/>\n"
        let total = report.total
        out += text(x: 30, y: 34, "Adapter rank report: \(Paths.baseName(of: report.adapterPath))", size: 20, weight: "bold")
        out += text(x: 30, y: 58, "\(report.format.rawValue), \(total.modules) modules, stored rank \(total.storedRank), numerical rank \(total.numericalRank), mean entropy rank \(ByteSize.formatted(total.entropyRank, decimals: 2))", size: 13, fill: "#555555")
        out += spectra(types: types, left: 80, top: 110, width: 480, height: 340)
        out += heatmap(types: types, layers: layers, left: 720, top: 110, cell: cell)
        out += "</svg>\n"
        return out
    }

    // MARK: spectra panel

    func spectra(types: [String], left: Double, top: Double, width: Double, height: Double) -> String {
        var out = text(x: left, y: top - 18, "Singular spectrum by module type (σᵢ / σ₁)", size: 15, weight: "bold")
        let maxRank = max(report.modules.map(\.spectrum.sigma.count).max() ?? 1, 2)
        func x(_ index: Int) -> Double { left + width * Double(index) / Double(maxRank - 1) }
        func y(_ ratio: Double) -> Double {
            let decades = max(-floorDecades, ratio > 0 ? log10(ratio) : -floorDecades)
            return top + height * (-decades / floorDecades)
        }
        out += "<rect x=\"\(n(left))\" y=\"\(n(top))\" width=\"\(n(width))\" height=\"\(n(height))\" fill=\"#fafafa\" stroke=\"#999999\"/>\n"
        for decade in 0...Int(floorDecades) {
            let yy = top + height * Double(decade) / floorDecades
            out += "<line x1=\"\(n(left))\" y1=\"\(n(yy))\" x2=\"\(n(left + width))\" y2=\"\(n(yy))\" stroke=\"#e0e0e0\"/>\n"
            out += text(x: left - 8, y: yy + 4, decade == 0 ? "1" : "1e-\(decade)", size: 11, anchor: "end", fill: "#555555")
        }
        for tick in ticks(maxRank) {
            out += "<line x1=\"\(n(x(tick - 1)))\" y1=\"\(n(top + height))\" x2=\"\(n(x(tick - 1)))\" y2=\"\(n(top + height + 5))\" stroke=\"#555555\"/>\n"
            out += text(x: x(tick - 1), y: top + height + 19, "\(tick)", size: 11, anchor: "middle", fill: "#555555")
        }
        out += text(x: left + width / 2, y: top + height + 40, "component i", size: 12, anchor: "middle")
        out += "<text x=\"\(n(left - 50))\" y=\"\(n(top + height / 2))\" font-size=\"12\" text-anchor=\"middle\" transform=\"rotate(-90 \(n(left - 50)) \(n(top + height / 2)))\">σᵢ / σ₁ (log)</text>\n"
        for (typeIndex, type) in types.enumerated() {
            let colour = Self.palette[typeIndex % Self.palette.count]
            let members = report.modules.filter { $0.spectrum.moduleType == type }
            for module in members {
                out += polyline(normalised(module.spectrum.sigma), x: x, y: y, colour: colour, width: 1, opacity: 0.25)
            }
            // Geometric mean of σ/σ₁ at each index over the modules that have it.
            var mean: [Double] = []
            for index in 0..<(members.map(\.spectrum.sigma.count).max() ?? 0) {
                let values = members.compactMap { normalised($0.spectrum.sigma).dropFirst(index).first }.map { max($0, pow10(-floorDecades)) }
                guard !values.isEmpty else { break }
                mean.append(pow10(values.map(log10).reduce(0, +) / Double(values.count)))
            }
            out += polyline(mean, x: x, y: y, colour: colour, width: 2.5, opacity: 1)
            let legendY = top + height + 62 + Double(typeIndex / 4) * 18
            let legendX = left + Double(typeIndex % 4) * 125
            out += "<line x1=\"\(n(legendX))\" y1=\"\(n(legendY - 4))\" x2=\"\(n(legendX + 22))\" y2=\"\(n(legendY - 4))\" stroke=\"\(colour)\" stroke-width=\"3\"/>\n"
            out += text(x: legendX + 28, y: legendY, type, size: 12)
        }
        return out
    }

    func normalised(_ sigma: [Double]) -> [Double] {
        guard let first = sigma.first, first > 0 else { return [] }
        return sigma.map { $0 / first }
    }

    func polyline(_ values: [Double], x: (Int) -> Double, y: (Double) -> Double, colour: String, width: Double, opacity: Double) -> String {
        guard !values.isEmpty else { return "" }
        let points = values.enumerated().map { "\(n(x($0.offset))),\(n(y($0.element)))" }.joined(separator: " ")
        return "<polyline points=\"\(points)\" fill=\"none\" stroke=\"\(colour)\" stroke-width=\"\(n(width))\" stroke-opacity=\"\(n(opacity))\" stroke-linejoin=\"round\"/>\n"
    }

    func ticks(_ maxRank: Int) -> [Int] {
        let step = [1, 2, 4, 8, 16, 32, 64, 128, 256].first { maxRank / $0 <= 8 } ?? 512
        var result = [1]
        var tick = step
        while tick <= maxRank { if tick > 1 { result.append(tick) }; tick += step }
        return result
    }

    // MARK: heatmap panel

    func heatmap(types: [String], layers: [String], left: Double, top: Double, cell: Double) -> String {
        var out = text(x: left, y: top - 18, "Entropy effective rank by layer and module type", size: 15, weight: "bold")
        // Room for the rotated column labels.
        let top = top + 64
        let columnWidth = max(54.0, min(90.0, 460.0 / Double(max(types.count, 1))))
        var cells: [String: (sum: Double, count: Int, rank: Int)] = [:]
        for module in report.modules {
            let key = (module.spectrum.layer.map(String.init) ?? "-") + "\u{0}" + module.spectrum.moduleType
            var entry = cells[key] ?? (0, 0, 0)
            entry.sum += module.statistics.entropyRank
            entry.count += 1
            entry.rank = max(entry.rank, module.statistics.storedRank)
            cells[key] = entry
        }
        let maxRank = Double(max(cells.values.map(\.rank).max() ?? 1, 1))
        for (column, type) in types.enumerated() {
            let cx = left + columnWidth * (Double(column) + 0.35)
            out += "<text x=\"\(n(cx))\" y=\"\(n(top))\" font-size=\"11\" text-anchor=\"start\" transform=\"rotate(-35 \(n(cx)) \(n(top)))\">\(escaped(type))</text>\n"
        }
        for (row, layer) in layers.enumerated() {
            let yy = top + 6 + cell * Double(row)
            out += text(x: left - 8, y: yy + cell / 2 + 4, layer, size: 11, anchor: "end", fill: "#555555")
            for (column, type) in types.enumerated() {
                let xx = left + columnWidth * Double(column)
                guard let entry = cells[layer + "\u{0}" + type], entry.count > 0 else {
                    out += "<rect x=\"\(n(xx))\" y=\"\(n(yy))\" width=\"\(n(columnWidth - 2))\" height=\"\(n(cell - 2))\" fill=\"#f0f0f0\"/>\n"
                    continue
                }
                let value = entry.sum / Double(entry.count)
                let fraction = min(max(value / maxRank, 0), 1)
                out += "<rect x=\"\(n(xx))\" y=\"\(n(yy))\" width=\"\(n(columnWidth - 2))\" height=\"\(n(cell - 2))\" fill=\"\(Self.viridis(fraction))\"><title>layer \(escaped(layer)) \(escaped(type)): entropy rank \(ByteSize.formatted(value, decimals: 2)) of r = \(entry.rank)</title></rect>\n"
                if cell >= 16 {
                    out += text(x: xx + columnWidth / 2 - 1, y: yy + cell / 2 + 3, ByteSize.formatted(value, decimals: 1), size: min(11, cell - 6), anchor: "middle", fill: fraction > 0.6 ? "#000000" : "#ffffff")
                }
            }
        }
        out += "<text x=\"\(n(left - 40))\" y=\"\(n(top + 6 + cell * Double(layers.count) / 2))\" font-size=\"12\" text-anchor=\"middle\" transform=\"rotate(-90 \(n(left - 40)) \(n(top + 6 + cell * Double(layers.count) / 2)))\">layer</text>\n"
        // Colour bar: 0 … the largest stored rank.
        let barTop = top + 6 + cell * Double(layers.count) + 24
        let barWidth = columnWidth * Double(max(types.count, 1)) - 2
        for step in 0..<50 {
            let fraction = Double(step) / 49
            out += "<rect x=\"\(n(left + barWidth * Double(step) / 50))\" y=\"\(n(barTop))\" width=\"\(n(barWidth / 50 + 0.5))\" height=\"10\" fill=\"\(Self.viridis(fraction))\"/>\n"
        }
        out += text(x: left, y: barTop + 26, "0", size: 11, fill: "#555555")
        out += text(x: left + barWidth, y: barTop + 26, "r = \(Int(maxRank))", size: 11, anchor: "end", fill: "#555555")
        out += text(x: left + barWidth / 2, y: barTop + 26, "entropy effective rank", size: 11, anchor: "middle", fill: "#555555")
        return out
    }

    /// A few stops of matplotlib's viridis, linearly interpolated (dark = low, yellow = high).
    static func viridis(_ t: Double) -> String {
        let stops: [(Double, Double, Double)] = [(68, 1, 84), (59, 82, 139), (33, 145, 140), (94, 201, 98), (253, 231, 37)]
        let position = min(max(t, 0), 1) * Double(stops.count - 1)
        let index = min(Int(position), stops.count - 2)
        let f = position - Double(index)
        let (a, b) = (stops[index], stops[index + 1])
        func channel(_ x: Double, _ y: Double) -> String {
            let value = Int((x + (y - x) * f).rounded())
            let digits = Array("0123456789abcdef")
            return String(digits[value / 16]) + String(digits[value % 16])
        }
        return "#" + channel(a.0, b.0) + channel(a.1, b.1) + channel(a.2, b.2)
    }

    // MARK: SVG helpers

    func text(x: Double, y: Double, _ content: String, size: Double, anchor: String = "start", weight: String = "normal", fill: String = "#222222") -> String {
        "<text x=\"\(n(x))\" y=\"\(n(y))\" font-size=\"\(n(size))\" text-anchor=\"\(anchor)\" font-weight=\"\(weight)\" fill=\"\(fill)\">\(escaped(content))</text>\n"
    }

    func escaped(_ text: String) -> String {
        var out = ""
        for character in text {
            switch character {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            default:
                // XML 1.0 forbids most control characters even escaped.
                if let scalar = character.unicodeScalars.first, scalar.value < 0x20 { out += "?" } else { out.append(character) }
            }
        }
        return out
    }

    func n(_ value: Double) -> String { ByteSize.formatted(value, decimals: 1) }
}

private func log10(_ x: Double) -> Double { RankMath.log10(x) }
private func pow10(_ x: Double) -> Double { RankMath.pow10(x) }

#if canImport(Glibc)
import Glibc
enum RankMath {
    static func log10(_ x: Double) -> Double { Glibc.log10(x) }
    static func pow10(_ x: Double) -> Double { Glibc.pow(10, x) }
}
#endif
