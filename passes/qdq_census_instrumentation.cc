#include "passes/qdq_census_instrumentation.h"

#include "analysis/qdq_census.h"

namespace qopt {
namespace {

class QdqCensusInstrumentation : public PassInstrumentation {
 public:
  // One linear scan each side of a pass.
  void BeforePass(const Pass&, const ir::Model& model) override {
    before_ = analysis::CensusToJson(analysis::TakeQdqCensus(model.graph()));
  }
  void RecordRun(const Pass&, const ir::Model& model, PassRun& run) override {
    run.census_before = std::move(before_);
    run.census_after = analysis::CensusToJson(analysis::TakeQdqCensus(model.graph()));
  }

 private:
  nlohmann::json before_;
};

}  // namespace

std::unique_ptr<PassInstrumentation> CreateQdqCensusInstrumentation() {
  return std::make_unique<QdqCensusInstrumentation>();
}

}  // namespace qopt
